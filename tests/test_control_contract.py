"""docs/control-api.md against the typed contract in p2pnet/api, table by table.

The page is the specification people read; p2pnet/api/_contract.py is the one
the node, the CLI and the TUI run.  Every method, param, result, item type,
event and error code must read the same in both: names, order and types.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from p2pnet import api

DOC = (Path(__file__).resolve().parent.parent / "docs" / "control-api.md").read_text()


def render(t: Any) -> str:
    """A type as the page writes it."""
    if isinstance(t, mi.StrType):
        return "string"
    if isinstance(t, mi.IntType):
        if t.ge is not None and t.le is not None and t.le < 1 << 40:
            return f"int {t.ge} to {t.le}"
        return "int ≥ 1" if t.ge == 1 else "int"
    if isinstance(t, mi.FloatType):
        return "number"
    if isinstance(t, mi.BoolType):
        return "bool"
    if isinstance(t, mi.NoneType):
        return "null"
    if isinstance(t, mi.LiteralType):
        return " \\| ".join(f'`"{v}"`' for v in sorted(t.values))
    if isinstance(t, mi.ListType):
        return f"[{render(t.item_type)}]"
    if isinstance(t, mi.DictType):
        return f"{{{render(t.key_type)}: {render(t.value_type)}}}"
    if isinstance(t, mi.UnionType):
        return " or ".join(render(x) for x in t.types)
    if isinstance(t, mi.StructType):
        return t.cls.__name__
    raise AssertionError(f"no way to write {t!r} on the page")


def fields(cls: type[msgspec.Struct]) -> list[mi.Field]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return list(info.fields)


def section(title: str, level: str = "##") -> str:
    match = re.search(rf"^{level} {re.escape(title)}\n(.*?)(?=^#{{2,3}} |\Z)", DOC, re.M | re.S)
    assert match, f"docs/control-api.md has no section {level} {title}"
    return match.group(1)


def rows(text: str) -> list[list[str]]:
    """The body rows of the first table in ``text``, cells stripped (escaped pipes kept in their cell)."""
    out = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        out.append(cells)
    return out[1:]  # the header row


def documented_structs() -> dict[str, str]:
    """``### Name`` sections: name -> body."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^### (\w+)\n(.*?)(?=^#{2,3} |\Z)", DOC, re.M | re.S)}


def reachable() -> set[type[msgspec.Struct]]:
    """Every Struct a result or event contains, all the way down."""
    seen: set[type[msgspec.Struct]] = set()
    todo: list[type[msgspec.Struct]] = [res for _, res in api.METHODS.values()] + list(api.EVENTS.values())

    def walk(t: Any) -> None:
        if isinstance(t, mi.StructType):
            todo.append(t.cls)
        for attr in ("item_type", "value_type"):
            if hasattr(t, attr):
                walk(getattr(t, attr))
        for inner in getattr(t, "types", ()):
            walk(inner)

    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for f in fields(cls):
            walk(f.type)
    return seen


def test_error_codes() -> None:
    codes = [row[0].strip("`") for row in rows(section("Error codes"))]
    assert codes == list(api.ERROR_CODES)


def test_methods_params_and_result_types() -> None:
    table = {row[0].strip("`"): row for row in rows(section("Methods"))}
    assert list(table) == list(api.METHODS)
    for name, (request, result) in api.METHODS.items():
        params = ", ".join(f"`{f.encode_name}{'' if f.required else '?'}`: {render(f.type)}" for f in fields(request))
        assert table[name][1] == (params or "none"), name
        assert table[name][2] == result.__name__, name


def test_results_with_a_few_fields_are_listed_whole() -> None:
    table = {row[0]: row[1] for row in rows(section("Results"))}
    for name, listed in table.items():
        cls = getattr(api, name)
        got = [(m.group(1), m.group(2)) for m in re.finditer(r"`(\w+)` \(([^:)]+(?:\([^)]*\))?)", listed)]
        assert [n for n, _ in got] == [f.encode_name for f in fields(cls)], name
        assert [t.strip() for _, t in got] == [render(f.type) for f in fields(cls)], name


def test_every_type_section_matches_its_struct() -> None:
    sections = documented_structs()
    for name, body in sections.items():
        cls = getattr(api, name, None)
        assert isinstance(cls, type) and issubclass(cls, msgspec.Struct), f"### {name} names no type of the contract"
        table = rows(body)
        assert [r[0].strip("`") for r in table] == [f.encode_name for f in fields(cls)], name
        assert [r[1] for r in table] == [render(f.type) for f in fields(cls)], name


def test_every_struct_a_client_can_receive_is_documented() -> None:
    listed = set(documented_structs()) | {row[0] for row in rows(section("Results"))}
    missing = sorted(cls.__name__ for cls in reachable() if cls.__name__ not in listed)
    assert not missing, f"undocumented: {missing}"


def test_events() -> None:
    table = {row[0].strip("`"): row[1] for row in rows(section("Events"))}
    assert table == {name: cls.__name__ for name, cls in api.EVENTS.items()}


@pytest.mark.parametrize("name", sorted(api.METHODS))
def test_unknown_and_mistyped_params_are_refused(name: str) -> None:
    request, _ = api.METHODS[name]
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"no_such_param": 1, **_minimal(request)}, request)


def _minimal(request: type[msgspec.Struct]) -> dict[str, Any]:
    return {f.encode_name: "x" for f in fields(request) if f.required}
