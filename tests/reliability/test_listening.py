"""Every server kit starts listens on 127.0.0.1 only: read from /proc/net/tcp{,6}, not from kit."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from conftest import write_project

from kit import server
from kit.project import find_project

LISTEN = "0A"


def _descendants(pid: int) -> set[int]:
    """`pid` and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in found} - found
        grew = bool(more)
        found |= more
    return found


def _socket_inodes(pids: set[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
        except OSError:
            continue
    return inodes


def _address(hex_address: str) -> str:
    host, port = hex_address.split(":")
    if len(host) == 8:
        return (
            f"{socket.inet_ntop(socket.AF_INET, struct.pack('<I', int(host, 16)))}:{int(port, 16)}"
        )
    raw = b"".join(struct.pack("<I", int(host[i : i + 8], 16)) for i in range(0, 32, 8))
    return f"[{socket.inet_ntop(socket.AF_INET6, raw)}]:{int(port, 16)}"


def listening_addresses(pid: int) -> set[str]:
    """The addresses that `pid` and its children listen on (TCP, IPv4 and IPv6)."""
    inodes = _socket_inodes(_descendants(pid))
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                found.add(_address(fields[1]))
    return found


def test_the_kit_server_listens_on_127_0_0_1_only(tmp_path: Path) -> None:
    project = find_project(write_project(tmp_path / "project"))
    assert project is not None
    started = server.start(project)
    try:
        addresses = listening_addresses(started.pid)
        assert addresses, "the kit server listens nowhere"
        assert all(address.startswith("127.0.0.1:") for address in addresses), addresses
        assert f"127.0.0.1:{started.port}" in addresses
    finally:
        server.stop(project)
    assert server.status(project) is None


def test_the_embedded_api_of_a_submission_listens_on_127_0_0_1_only_and_stops_with_it(
    tmp_path: Path,
) -> None:
    project = find_project(write_project(tmp_path / "project"))
    assert project is not None
    with server.embedded_api(project) as api:
        while not server.answers(api.api_url, timeout=1.0):
            assert api.exited() is None, api.exited()
        addresses = listening_addresses(api.process.pid)
    assert addresses == {f"127.0.0.1:{api.port}"}, addresses
    assert api.process.returncode is not None, "stopped (by its PID) and reaped"
    assert not Path(f"/proc/{api.process.pid}").exists()
