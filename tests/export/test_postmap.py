"""Postfix's own ``postmap -q`` reads the exported files and the live socketmap alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import system_clock
from bot.export.publish import export_postfix
from bot.export.snapshot import SnapshotCache
from bot.export.socketmap import SocketmapServer
from bot.export.store import DatabaseSource
from bot.probe.model import Verdict
from tests.export.helpers import approve_added, approve_removed, plant, run_cli
from tests.export.postfix_support import empty_config, needs_postfix, postmap_build, postmap_query

pytestmark = [pytest.mark.postfix, pytest.mark.db, needs_postfix, pytest.mark.timeout(60)]

TAIL = "protocols=>=TLSv1.2 ciphers=high"
EXPECTED = {
    "tls_policy": {
        "strict.example": f"secure match=mx1.strict.example {TAIL}",
        "relaxed.example": f"encrypt {TAIL}",
        "STRICT.Example": f"secure match=mx1.strict.example {TAIL}",
        "gone.example": None,
        ".strict.example": None,
        "observed.example": None,
        "evil.example": None,
        "attacker.example": None,
        "unknown.example": None,
    },
    "tls_inbound": {
        "strict.example": "reject_plaintext_session",
        "relaxed.example": "reject_plaintext_session",
        "gone.example": None,
        "attacker.example": None,
    },
}


async def test_files_and_socketmap_give_postfix_the_same_answers(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    approve_added(session, "strict.example")
    approve_added(session, "relaxed.example", Verdict.RELAXED)
    approve_added(session, "gone.example")
    approve_removed(session, "gone.example")
    plant(engine, domain="observed.example", mode="observe")
    plant(engine, domain="evil.example\nattacker.example", level="relaxed")
    plant(engine, domain="evil.example", mx_hosts=["mx.evil.example\nattacker.example none"])
    export_postfix(session=session, directory=tmp_path, now=system_clock())
    for name in EXPECTED:
        await postmap_build(f"hash:{tmp_path / name}")
    assert (tmp_path / "tls_policy.db").exists()

    server = SocketmapServer(SnapshotCache(DatabaseSource(engine), refresh_interval=0.05))
    await server.start("127.0.0.1", 0)
    try:
        for name, cases in EXPECTED.items():
            live = f"socketmap:inet:127.0.0.1:{server.port}:{name}"
            for key, want in cases.items():
                if key == "evil.example" and name == "tls_policy":
                    want = "secure protocols=>=TLSv1.2 ciphers=high"  # its only MX was hostile
                assert await postmap_query(key, f"hash:{tmp_path / name}") == want, (name, key)
                assert await postmap_query(key, live) == want, (name, key)

        # An approved change is answered live at once; the files follow at the next export.
        approve_added(session, "new.example")
        await asyncio.sleep(0.3)
        live = f"socketmap:inet:127.0.0.1:{server.port}:tls_policy"
        want = f"secure match=mx1.new.example {TAIL}"
        assert await postmap_query("new.example", live) == want
        assert await postmap_query("new.example", f"hash:{tmp_path / 'tls_policy'}") is None
        export_postfix(session=session, directory=tmp_path, now=system_clock())
        await postmap_build(f"hash:{tmp_path / 'tls_policy'}")
        assert await postmap_query("new.example", f"hash:{tmp_path / 'tls_policy'}") == want

        # Postfix asks a socketmap only for the full sender address (it is a pattern table
        # to Postfix); the server completes access(5)'s search as a hash file would.
        live = f"socketmap:inet:127.0.0.1:{server.port}:tls_inbound"
        assert await postmap_query("user@strict.example", live) == "reject_plaintext_session"
        assert await postmap_query("user@eu.strict.example", live) == "reject_plaintext_session"
        assert await postmap_query("user@gone.example", live) is None

        with pytest.raises(AssertionError, match="permanent error: unknown map nope"):
            await postmap_query("strict.example", f"socketmap:inet:127.0.0.1:{server.port}:nope")
    finally:
        await server.close()


def test_export_with_postmap_indexes_both_files(
    session: Session, database, tmp_path: Path, monkeypatch, capsys
) -> None:
    approve_added(session, "indexed.example")
    argv = ["export", "postfix", "--out", str(tmp_path), "--postmap"]
    monkeypatch.setenv("MAIL_CONFIG", str(empty_config()))  # Debian "No configuration"
    assert run_cli(argv, database, monkeypatch) == 0
    assert (tmp_path / "tls_policy.db").stat().st_size > 0
    assert (tmp_path / "tls_inbound.db").stat().st_size > 0
    value = asyncio.run(postmap_query("indexed.example", f"hash:{tmp_path / 'tls_inbound'}"))
    assert value == "reject_plaintext_session"
    assert "wrote " in capsys.readouterr().out
