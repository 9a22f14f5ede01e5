"""The suite's own network guard refuses anything but loopback."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkGuardError, _attempts, _check


@pytest.mark.parametrize(
    "address",
    [("10.0.0.1", 25), ("192.0.2.1", 25), ("::ffff:10.0.0.1", 25, 0, 0), ("mx.example.com", 25)],
    ids=["private", "documentation", "mapped-private", "a-name"],
)
def test_guard_refuses_addresses_outside_loopback(address: tuple[object, ...]) -> None:
    # Given a socket, when it connects outside loopback, then the guard raises before the kernel.
    family = socket.AF_INET6 if ":" in str(address[0]) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(NetworkGuardError):
        sock.connect(address)
    _attempts.pop()  # this test provoked the attempt on purpose


@pytest.mark.parametrize("address", [("127.0.0.1", 1), ("127.8.9.10", 1), ("::1", 1, 0, 0)])
def test_guard_lets_loopback_through(address: tuple[object, ...]) -> None:
    _check(address)  # no exception
