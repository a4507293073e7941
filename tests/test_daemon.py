"""The daemon's own edges: its control socket, its home lock, bad input, clean exit."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from harness.daemons import DaemonProcess, start_node
from harness.polling import DEADLINE

from p2pnet.api import MAX_LINE, ControlClient, ControlError

pytestmark = pytest.mark.integration  # real daemon processes

IP = "127.0.0.20"


@pytest.fixture
def node(tmp_path: Path):
    node = start_node(tmp_path / "home", IP)
    yield node
    node.stop()


def _raw(node: DaemonProcess, payload: bytes) -> list[dict]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(DEADLINE)
        sock.connect(str(node.socket))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


def test_socket_and_home_are_private(node: DaemonProcess) -> None:
    assert stat.S_IMODE(os.stat(node.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(node.home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(node.home / "identity.json").st_mode) == 0o600


def test_malformed_requests_get_clear_errors_and_the_node_keeps_going(node: DaemonProcess) -> None:
    replies = _raw(
        node,
        b"this is not json\n"
        b"[1, 2, 3]\n"
        b'{"v": 1, "id": 1, "method": "no.such.method"}\n'
        b'{"v": 9, "id": 2, "method": "status"}\n'
        b'{"v": 1, "id": 3, "method": "post", "params": {"text": 42}}\n'
        b'{"v": 1, "id": 4, "method": "feed", "params": {"limit": "lots"}}\n'
        b'{"v": 1, "id": 5, "method": "thread", "params": {"id": "zz"}}\n'
        b'{"v": 1, "id": 6, "method": "post", "params": "text"}\n'
        b'{"v": 1, "id": 7, "method": "status"}\n',
    )
    codes = {r.get("id"): (r["ok"], r.get("error", {}).get("code")) for r in replies}
    assert [r["error"]["code"] for r in replies if r.get("id") is None] == ["bad_json", "bad_json"]
    assert codes[1] == (False, "unknown_method")
    assert codes[2] == (False, "bad_version")
    assert codes[3][0] is False and codes[3][1] in ("bad_request", "no_swarm")
    assert codes[4] == (False, "bad_request")
    assert codes[5][0] is False and codes[5][1] in ("bad_request", "not_found")
    assert codes[6] == (False, "bad_request")
    assert codes[7] == (True, None)
    assert all(r["error"]["message"] for r in replies if not r["ok"])


def test_out_of_range_numbers_get_clear_errors(node: DaemonProcess) -> None:
    """Infinity once reached the node as a float and overflowed; a negative invite expiry made a dead invite."""
    node.call("swarm.create", name="friends", difficulty=8)
    replies = _raw(
        node,
        b'{"v": 1, "id": 1, "method": "post", "params": {"text": "hi", "expires": Infinity}}\n'
        b'{"v": 1, "id": 2, "method": "post", "params": {"text": "hi", "expires": 1e400}}\n'
        b'{"v": 1, "id": 3, "method": "post", "params": {"text": "hi", "expires": 99999999999999999999999}}\n'
        b'{"v": 1, "id": 4, "method": "post", "params": {"text": "hi", "expires": 1.5}}\n'
        b'{"v": 1, "id": 5, "method": "swarm.invite", "params": {"name": "friends", "expires_in": -5}}\n'
        b'{"v": 1, "id": 6, "method": "swarm.invite", "params": {"name": "friends", "expires_in": 0}}\n'
        b'{"v": 1, "id": 7, "method": "post", "params": {"text": "hi", "expires": 31000000}}\n',
    )
    assert all(not r["ok"] and r["error"]["message"] for r in replies), replies
    codes = [r["error"]["code"] for r in replies]
    assert codes[:2] == ["bad_json", "bad_json"]  # not JSON at all
    assert codes[2:7] == ["bad_request"] * 5  # the contract bounds expires: 10 minutes to 30 days
    assert "expires_in" in replies[4]["error"]["message"] and ">= 1" in replies[4]["error"]["message"]
    assert "2592000" in replies[6]["error"]["message"]  # 30 days, in the unit the field is in
    assert "internal" not in codes
    assert node.call("status")["identity"] == "ready"
    assert "Traceback" not in node.log.read_text()
    out = node.cli("swarm", "invite", "friends", "--expires", "-5", check=False)
    assert out.returncode == 2 and "not a duration" in out.stderr


def test_two_hundred_control_clients_at_once(node: DaemonProcess) -> None:
    """Half of 200 clients once failed with EAGAIN: the listen backlog was 64."""
    errors: list[BaseException] = []
    answered: list[int] = []
    go = threading.Barrier(200)

    def one() -> None:
        try:
            go.wait()
            with ControlClient(node.socket, timeout=DEADLINE) as client:
                answered.append(client.call("status")["pid"])
        except BaseException as exc:  # every failure counts
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(answered) == 200


def test_oversized_line_is_refused(node: DaemonProcess) -> None:
    replies = _raw(node, b"x" * (MAX_LINE + 10))
    assert replies[-1]["error"]["code"] == "too_large"
    assert node.call("status")["identity"] == "ready"


def test_second_daemon_on_the_same_home_is_refused(node: DaemonProcess) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "p2pnet", "--home", str(node.home), "daemon", "--listen-ip", IP],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert out.returncode == 1 and "already running" in out.stderr
    assert node.call("status")["identity"] == "ready"


def test_sigterm_stops_cleanly_and_removes_the_socket(node: DaemonProcess) -> None:
    assert node.stop(signal.SIGTERM) == 0
    assert not node.socket.exists()
    assert "Traceback" not in node.log.read_text()


def test_identity_lifecycle_through_the_api(tmp_path: Path) -> None:
    node = DaemonProcess(tmp_path / "fresh", IP)
    node.start()  # no identity yet: the node runs and says so
    try:
        assert node.call("status")["identity"] == "none"
        with pytest.raises(ControlError) as err:
            node.call("post", text="too early")
        assert err.value.code == "no_identity"
        phrase = node.call("identity.create", passphrase="pw")["phrase"]
        assert len(phrase.split()) == 24
        with pytest.raises(ControlError) as err:
            node.call("identity.create")
        assert err.value.code == "identity_exists"
        node.stop()
        node.start()
        assert node.call("status")["identity"] == "locked"
        # Locked, it runs no swarm: it says so when it starts, and names the command that unlocks it.
        unlock = f"unlock it with: p2pnet --home {node.home} unlock"
        assert unlock in node.log.read_text()
        assert unlock in node.cli("status").stdout
        with pytest.raises(ControlError) as err:
            node.call("post", text="while locked")
        assert err.value.code == "locked" and unlock in err.value.message
        with pytest.raises(ControlError) as err:
            node.call("identity.unlock", passphrase="wrong")
        assert err.value.code == "bad_passphrase"
        assert node.call("identity.unlock", passphrase="pw")["identity"] == "ready"
        assert node.call("swarm.create", name="solo")["invite"].startswith("p2pnet-invite1")
    finally:
        node.stop()


def test_init_refuses_to_overwrite_and_restores_from_a_phrase(tmp_path: Path) -> None:
    node = DaemonProcess(tmp_path / "offline", IP)
    first = node.cli("init", "--json")
    phrase = json.loads(first.stdout)["phrase"]
    again = node.cli("init", check=False)
    assert again.returncode == 1 and "already has an identity" in again.stderr
    other = DaemonProcess(tmp_path / "restored", IP)
    assert other.cli("init", "--restore", input=phrase).returncode == 0
    assert (tmp_path / "restored" / "identity.json").read_bytes() == (
        tmp_path / "offline" / "identity.json"
    ).read_bytes()
    bad = DaemonProcess(tmp_path / "bad", IP).cli("init", "--restore", input="not a phrase", check=False)
    assert bad.returncode == 1 and "24 words" in bad.stderr


def test_corrupt_identity_file_is_a_clear_error(tmp_path: Path) -> None:
    node = DaemonProcess(tmp_path / "corrupt", IP)
    node.home.mkdir(mode=0o700)
    (node.home / "identity.json").write_text("{not json")
    out = subprocess.run(
        [sys.executable, "-m", "p2pnet", "--home", str(node.home), "daemon", "--listen-ip", IP],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert out.returncode == 1 and "identity file" in out.stderr and "Traceback" not in out.stderr
    assert (node.home / "identity.json").read_text() == "{not json"  # nothing was overwritten


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    node = DaemonProcess(tmp_path / "baddb", IP)
    node.home.mkdir(mode=0o700)
    node.cli("init")
    (node.home / "node.sqlite3").write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    out = subprocess.run(
        [sys.executable, "-m", "p2pnet", "--home", str(node.home), "daemon", "--listen-ip", IP],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "node.sqlite3" in out.stderr
