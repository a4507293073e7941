"""The public surface of each package, and the layering rule for protocol/."""

from __future__ import annotations

import subprocess
import sys

import protocol


def test_protocol_all_names_exist() -> None:
    for name in protocol.__all__:
        assert hasattr(protocol, name), name
    assert sorted(set(protocol.__all__)) == sorted(protocol.__all__)


def test_protocol_imports_no_io_frameworks() -> None:
    code = (
        "import sys, protocol, protocol._objects, protocol._identity, protocol._invite, protocol._keys;"
        "io_stacks = {'trio', 'libp2p', 'textual', 'asyncio', 'p2pnet', 'tui'};"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & io_stacks);"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
