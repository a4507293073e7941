"""docs/architecture.md names real code: every dotted name in it exists; every path in docs/ too.

The path of a post there names the modules and functions a post goes through,
in order; when code moves or is renamed, this test says which sentence to fix.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()

NAMES = sorted(set(re.findall(r"`((?:protocol|p2pnet|tui)(?:\.\w+)+)`", DOC)))
# Every page of docs/ and the README: a file path named there exists.
PAGES = {p.name: p.read_text() for p in [*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]}
PATHS = sorted(
    {
        (page, path)
        for page, text in PAGES.items()
        for path in re.findall(r"\b((?:protocol|p2pnet|tui|tests|bench)/[\w/]*\.py)\b", text)
    }
)


def resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted``, then walk attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_path_of_a_post_names_code() -> None:
    path = DOC[DOC.index("## The path of a post") : DOC.index("## No exception")]
    assert len(re.findall(r"`(?:protocol|p2pnet|tui)\.", path)) >= 20


@pytest.mark.parametrize("name", NAMES)
def test_every_name_exists(name: str) -> None:
    try:
        resolve(name)
    except (ModuleNotFoundError, AttributeError) as exc:
        raise AssertionError(f"docs/architecture.md names {name}, which does not exist ({exc})") from None


@pytest.mark.parametrize(("page", "path"), PATHS)
def test_every_path_in_the_docs_exists(page: str, path: str) -> None:
    assert (ROOT / path).is_file(), f"{page} names {path}, which does not exist"
