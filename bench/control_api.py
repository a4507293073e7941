"""How the control API's typed contract is validated: msgspec Structs against dataclasses with a validator.

The contract (p2pnet/api/_contract.py) was chosen by this measurement.  Each
row decodes one request line and checks its params the way the node must:
types, required fields, unknown fields, ranges.  "dataclass" is the best
hand-written equivalent: json.loads, then a validator walking the dataclass's
fields and their types.

    python bench/control_api.py [--n 50000]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import time
import typing
from typing import Any

import msgspec

from p2pnet import api

LINE = b'{"v":1,"id":7,"method":"post","params":{"text":"a few lines on a coloured card","bg":"teal","expires":3600}}'
BAD = b'{"v":1,"id":8,"method":"post","params":{"text":42,"expires":3600}}'


@dataclasses.dataclass(frozen=True)
class PostParams:
    text: str
    swarm: str | None = None
    bg: str | None = None
    name: str | None = None
    expires: int | None = None


_HINTS = typing.get_type_hints(PostParams)


def validate(cls: type[Any], raw: Any) -> Any:
    """What a hand-written validator for one dataclass has to do."""
    if not isinstance(raw, dict):
        raise ValueError("params must be an object")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            if f.default is dataclasses.MISSING:
                raise ValueError(f"missing {f.name}")
            continue
        value, allowed = raw[f.name], typing.get_args(_HINTS[f.name]) or (_HINTS[f.name],)
        if not any(value is None if a is type(None) else type(value) is a for a in allowed):
            raise ValueError(f"{f.name}: expected {allowed}")
        if f.name == "expires" and value is not None and not 1 <= value <= 1 << 40:
            raise ValueError("expires out of range")
    return cls(**raw)


def with_msgspec(line: bytes) -> Any:
    request = msgspec.json.decode(line)
    return msgspec.convert(request["params"], api.Post)


def with_dataclass(line: bytes) -> Any:
    request = json.loads(line)
    return validate(PostParams, request["params"])


def per_call(fn: Any, line: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        with contextlib.suppress(msgspec.ValidationError, ValueError):
            fn(line)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="requests per row")
    n = parser.parse_args().n
    rows = [
        (name, per_call(fn, LINE, n), per_call(fn, BAD, n))
        for name, fn in (
            ("msgspec Struct", with_msgspec),
            ("dataclass + validator", with_dataclass),
        )
    ]
    print(f"| contract              | valid request | refused request |   ({n:,} each, µs per request)")
    print("|-----------------------|---------------|-----------------|")
    for name, good, bad in rows:
        print(f"| {name:<21} | {good:>11.2f}   | {bad:>13.2f}   |")


if __name__ == "__main__":
    main()
