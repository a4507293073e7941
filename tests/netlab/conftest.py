"""The ``lab`` fixture: a fresh network lab per test, or one clear skip line where none can be made."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netlab import Lab, lab_unavailable, open_lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    with open_lab() as lab:
        yield lab
