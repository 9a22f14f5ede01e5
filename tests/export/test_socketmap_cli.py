"""``tlsbot socketmap``: where it may listen, and one-line refusals."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.commands.socketmap import ListenError, parse_listen
from bot.export.netstring import encode
from tests.export.helpers import approve_added, cli_url, run_cli
from tests.export.postfix_support import free_port


@pytest.mark.parametrize(
    ("text", "allow", "expected"),
    [
        pytest.param("127.0.0.1:8460", False, ("127.0.0.1", 8460), id="default"),
        pytest.param("127.0.0.53:10000", False, ("127.0.0.53", 10000), id="other-loopback"),
        pytest.param("localhost:8460", False, ("127.0.0.1", 8460), id="localhost"),
        pytest.param("[::1]:8460", False, ("::1", 8460), id="ipv6-loopback"),
        pytest.param("192.0.2.10:8460", True, ("192.0.2.10", 8460), id="remote-allowed"),
        pytest.param("0.0.0.0:8460", True, ("0.0.0.0", 8460), id="any-allowed"),
    ],
)
def test_listen_accepted(text: str, allow: bool, expected: tuple[str, int]) -> None:
    assert parse_listen(text, allow_non_loopback=allow) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("0.0.0.0:8460", "not a loopback address", id="any"),
        pytest.param("192.0.2.10:8460", "not a loopback address", id="remote"),
        pytest.param("[::]:8460", "not a loopback address", id="ipv6-any"),
        pytest.param("mail.example:8460", "is not IP:PORT", id="name"),
        pytest.param("127.0.0.1", "is not IP:PORT", id="no-port"),
        pytest.param("127.0.0.1:0", "no valid port", id="port-zero"),
        pytest.param("127.0.0.1:70000", "no valid port", id="port-too-big"),
        pytest.param("127.0.0.1:x", "no valid port", id="port-letters"),
    ],
)
def test_listen_refused(text: str, message: str) -> None:
    with pytest.raises(ListenError, match=message):
        parse_listen(text, allow_non_loopback=False)


def test_cli_refuses_a_public_listen_address_in_one_line(monkeypatch, capsys) -> None:
    assert run_cli(["socketmap", "--listen", "0.0.0.0:8460"], None, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--allow-non-loopback" in err[0]


def test_cli_refuses_a_database_without_schema_in_one_line(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert run_cli(["socketmap"], None, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "tlsbot db upgrade" in err[0]


@pytest.mark.db
@pytest.mark.timeout(30)
async def test_socketmap_process_serves_the_store_and_stops_on_sigterm(
    session, database, tmp_path: Path
) -> None:
    approve_added(session, "served.example")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": cli_url(database), "PYTHONPATH": str(Path.cwd())}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "socketmap",
        "--listen",
        f"127.0.0.1:{port}",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("socketmap did not start")
        writer.write(encode(b"tls_inbound served.example"))
        want = encode(b"OK reject_plaintext_session")
        assert await reader.readexactly(len(want)) == want
        writer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0
    assert b"listening on 127.0.0.1:" in err
    assert b"Traceback" not in err


@pytest.mark.parametrize("command", [["socketmap"], ["export", "postfix", "--out", "."]])
@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("nonsense", "is not a database URL", id="not-a-url"),
        pytest.param("mysql://x/y", "supports sqlite and postgresql", id="unsupported"),
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:1/none", "refused", id="unreachable"),
    ],
)
def test_bad_database_url_is_one_line(
    command: list[str], url: str, message: str, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert run_cli(command, None, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
