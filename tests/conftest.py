"""Shared test settings: Hypothesis profiles and the --slow switch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# No test may pass or fail on wall-clock time, so Hypothesis deadlines are off.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", deadline=None, max_examples=10_000, suppress_health_check=[HealthCheck.too_slow])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="run long fuzzing and soak tests")


def pytest_configure(config: pytest.Config) -> None:
    os.environ["P2PNET_FUZZ_EXAMPLES"] = "100000" if config.getoption("--slow") else "2000"
    settings.load_profile("slow" if config.getoption("--slow") else "default")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture runs: a daemon process may start only in a test marked
    # integration, so `pytest -m "not integration"` is really the fast part.
    os.environ["P2PNET_TEST_INTEGRATION"] = "1" if item.get_closest_marker("integration") else ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="needs --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def fake() -> Iterator[Any]:
    """A fake node (tests/harness/fakenode.py) with an identity and the swarm 'friends'."""
    from harness.fakenode import fake_node

    with fake_node() as node:
        node.call("swarm.create", name="friends")
        yield node
