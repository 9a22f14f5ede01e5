"""Suite-wide fixtures.

The network guard: no test may open a connection or send a datagram to an
address outside loopback, even if the probe's own address guard were broken.
Every ``connect``/``connect_ex``/``sendto`` of a Python socket is checked; an
attempt elsewhere raises and is recorded, and the test fails at teardown even if
the code under test swallowed the error.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = ["tests.support.db"]

_attempts: list[str] = []


class NetworkGuardError(AssertionError):
    """A test tried to reach an address outside loopback."""


def _check(address: Any) -> None:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        _attempts.append(str(address))
        raise NetworkGuardError(f"test tried to connect to a name: {address!r}") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_loopback:
        _attempts.append(str(address))
        raise NetworkGuardError(f"test tried to leave loopback: {address!r}")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(address)
    return _real_connect_ex(self, address)


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _check(args[-1])
    return _real_sendto(self, data, *args)  # type: ignore[call-overload, no-any-return]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.socket.sendto = _guarded_sendto  # type: ignore[method-assign, assignment]


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    before = len(_attempts)
    yield
    leaked = _attempts[before:]
    assert not leaked, f"test tried to reach addresses outside loopback: {leaked}"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit tlsbot or Slack settings from the shell running them."""
    prefixes = ("TLSBOT_", "SLACK_", "MIMECAST_")
    for name in list(os.environ):
        if name.startswith(prefixes) and name != "TLSBOT_TEST_DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
