"""`--tcp` and `--ws` listen on 127.0.0.1 only (issue 7, item 5): no other address of this machine reaches them.

Connecting to 127.0.0.1 works; connecting to every other local address (another
loopback address, each interface's address, IPv6) is refused; and the kernel's
socket table shows one listener, on 127.0.0.1. A control listener bound to all
addresses is reached through those same probes, so the probes can tell.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lsp.helpers import SERVER_ENV


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def other_addresses() -> list[tuple[socket.AddressFamily, str]]:
    """This machine's addresses other than 127.0.0.1 (link-local IPv6 needs a scope: left out)."""
    addresses = [(socket.AF_INET, "127.0.0.2")]
    trie = Path("/proc/net/fib_trie").read_text(encoding="ascii").splitlines()
    local = {previous.split()[-1] for previous, line in itertools.pairwise(trie) if "/32 host LOCAL" in line}
    addresses += [(socket.AF_INET, address) for address in sorted(local) if not address.startswith("127.")]
    if socket.has_ipv6 and Path("/proc/net/if_inet6").exists():
        for line in Path("/proc/net/if_inet6").read_text(encoding="ascii").splitlines():
            raw = line.split()[0]
            address = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(raw))
            if not address.startswith("fe80"):
                addresses.append((socket.AF_INET6, address))
    return addresses


def reachable(family: socket.AddressFamily, address: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(2)
        try:
            client.connect((address, port))
        except ConnectionRefusedError:
            return False
        return True


def listeners(port: int) -> list[str]:
    """Local addresses (hex, as the kernel writes them) of the TCP sockets listening on `port`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.append(address)
    return found


@contextlib.contextmanager
def serving(transport: str, port: int) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "server", f"--{transport}", "--port", str(port)],
        env=SERVER_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not reachable(socket.AF_INET, "127.0.0.1", port):
            assert process.poll() is None and time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.05)
        yield
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_probes_reach_a_socket_bound_to_every_address() -> None:
    """The control: were the server bound to all addresses, the probes below would reach it."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as everywhere:
        everywhere.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        everywhere.bind(("::", 0))
        everywhere.listen()
        port = everywhere.getsockname()[1]
        assert all(reachable(family, address, port) for family, address in other_addresses())
    assert len(other_addresses()) >= 2  # another loopback address and at least one more


@pytest.mark.parametrize("transport", ["tcp", "ws"])
def test_the_server_is_reachable_on_loopback_only(transport: str) -> None:
    port = free_port()
    with serving(transport, port):
        assert listeners(port) == ["0100007F"]  # 127.0.0.1, and nothing on IPv6
        for family, address in other_addresses():
            assert not reachable(family, address, port), f"reachable on {address}"
