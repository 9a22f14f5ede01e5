"""``tlsbot export postfix``: files from the store, atomic, audited, injection-proof."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.clock import system_clock
from bot.export import files
from bot.export.publish import export_postfix
from bot.export.store import load_published
from bot.policy import audit
from bot.policy.models import AuditEvent
from bot.probe.model import Verdict
from tests.export.helpers import approve_added, approve_removed, plant, run_cli
from tests.support.db import TestDatabase

pytestmark = pytest.mark.db

SECURE = "secure match=mx1.{d} protocols=>=TLSv1.2 ciphers=high"
ENCRYPT = "encrypt protocols=>=TLSv1.2 ciphers=high"


def entries(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def test_export_writes_sorted_tables_with_a_header_and_an_audit_event(
    session: Session, database: TestDatabase, tmp_path: Path, monkeypatch, capsys
) -> None:
    approve_added(session, "zeta.example")
    approve_added(session, "alpha.example", Verdict.RELAXED)
    head_before = session.exec(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).first()

    assert run_cli(["export", "postfix", "--out", str(tmp_path)], database, monkeypatch) == 0

    out = capsys.readouterr().out
    assert entries(tmp_path / "tls_policy") == [
        f"alpha.example\t{ENCRYPT}",
        f"zeta.example\t{SECURE.format(d='zeta.example')}",
    ]
    assert entries(tmp_path / "tls_inbound") == [
        "alpha.example\treject_plaintext_session",
        "zeta.example\treject_plaintext_session",
    ]
    header = (tmp_path / "tls_policy").read_text().splitlines()[:4]
    assert re.search(
        rf"Produced \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ from the policy store as of audit event "
        rf"#{head_before} \([0-9a-f]{{16}}\); recorded as audit event #{head_before + 1}\.",
        "\n".join(header),
    )
    event = session.get(AuditEvent, head_before + 1)
    assert event is not None
    assert event.action == audit.AuditAction.EXPORT_PUBLISHED
    assert event.after["entries"] == {"tls_policy": 2, "tls_inbound": 2}
    assert event.after["source_seq"] == head_before
    assert audit.verify(session=session).ok
    assert f"recorded as audit event #{head_before + 1}" in out
    assert f"smtp_tls_policy_maps = hash:{tmp_path}/tls_policy" in out
    assert f"postmap hash:{tmp_path}/tls_inbound" in out
    assert "check_sender_access socketmap:inet:127.0.0.1:8460:tls_inbound" in out


def test_only_active_enforced_policies_are_published(engine: Engine, session: Session) -> None:
    approve_added(session, "kept.example")
    approve_added(session, "gone.example")
    approve_removed(session, "gone.example")
    plant(engine, domain="observed.example", mode="observe")
    plant(engine, domain="removed.example", status="removed")
    assert [p.domain for p in load_published(session)] == ["kept.example"]


def test_removed_domain_disappears_from_the_next_export(session: Session, tmp_path: Path) -> None:
    approve_added(session, "a.example")
    approve_added(session, "b.example")
    export_postfix(session=session, directory=tmp_path, now=system_clock())
    assert len(entries(tmp_path / "tls_policy")) == 2
    approve_removed(session, "a.example")
    export_postfix(session=session, directory=tmp_path, now=system_clock())
    assert entries(tmp_path / "tls_policy") == [f"b.example\t{SECURE.format(d='b.example')}"]
    assert entries(tmp_path / "tls_inbound") == ["b.example\treject_plaintext_session"]


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_a_failure_mid_way_leaves_the_old_files_whole(
    session: Session, tmp_path: Path, monkeypatch, fail_at: str
) -> None:
    approve_added(session, "old.example")
    export_postfix(session=session, directory=tmp_path, now=system_clock())
    old = {name: (tmp_path / name).read_bytes() for name in ("tls_policy", "tls_inbound")}
    approve_added(session, "new.example")
    events_before = len(session.exec(select(AuditEvent)).all())
    real_replace, real_fsync, calls = os.replace, os.fsync, []

    def crash_on_second(real):  # the first file goes through, the second one "crashes"
        def wrapper(*args):
            calls.append(args)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
            return real(*args)

        return wrapper

    if fail_at == "fsync":
        monkeypatch.setattr(files.os, "fsync", crash_on_second(real_fsync))
    else:
        monkeypatch.setattr(files.os, "replace", crash_on_second(real_replace))
    with pytest.raises(OSError, match="No space"):
        export_postfix(session=session, directory=tmp_path, now=system_clock())
    if fail_at == "fsync":  # nothing renamed yet: both old files are as they were
        assert {n: (tmp_path / n).read_bytes() for n in old} == old
    else:  # each file is whole: old or new, never a mix within one file
        for name in old:
            text = (tmp_path / name).read_text()
            assert text.endswith("\n")
            assert text.count("# Produced") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tls_inbound", "tls_policy"]
    session.rollback()
    assert len(session.exec(select(AuditEvent)).all()) == events_before  # export rolled back


HOSTILE_DOMAINS = [
    "evil.example\nattacker.example\tnone",
    "evil.example none",
    "evil.example,attacker.example",
    "evil.example=x",
    "evil.example:smtp",
    "evil\x00.example",
    "EVIL.example",
    ("a" * 63 + ".") * 4 + "example",
    "a" * 64 + ".example",
    "#evil.example",
]
HOSTILE_MX = [
    "mx.evil.example\nattacker.example none",
    "mx.evil.example protocols=SSLv3",
    "mx.evil.example,ciphers=null",
    "mx.evil.example:nexthop",
    "ciphers=null",
    "mx\x00.evil.example",
    ("a" * 60 + ".") * 5 + "example",
]


def test_hostile_rows_in_the_database_cannot_add_a_line_option_or_entry(
    engine: Engine, database: TestDatabase, tmp_path: Path, monkeypatch, capsys
) -> None:
    planted = [  # PostgreSQL itself refuses NUL in text and more than varchar(253)
        d for d in HOSTILE_DOMAINS if not (database.is_postgresql and ("\x00" in d or len(d) > 253))
    ]
    for i, domain in enumerate(planted):
        plant(engine, domain=domain, mx_hosts=[f"mx{i}.ok.example"])
    plant(engine, domain="ok.example", mx_hosts=["mx.ok.example", *HOSTILE_MX, 42, None])
    plant(engine, domain="str-mx.example", mx_hosts="mx.a.example:mx.b.example")
    plant(engine, domain="bad-level.example", level="none")

    assert run_cli(["export", "postfix", "--out", str(tmp_path)], database, monkeypatch) == 1

    assert entries(tmp_path / "tls_policy") == [
        f"ok.example\tsecure match=mx.ok.example {ENCRYPT.split(' ', 1)[1]}",
        f"str-mx.example\tsecure {ENCRYPT.split(' ', 1)[1]}",
    ]
    assert entries(tmp_path / "tls_inbound") == [
        "ok.example\treject_plaintext_session",
        "str-mx.example\treject_plaintext_session",
    ]
    for name in ("tls_policy", "tls_inbound"):
        raw = (tmp_path / name).read_bytes()
        assert b"\x00" not in raw
        assert b"\r" not in raw
        assert all(
            re.fullmatch(rb"(# [ -~]*|[a-z0-9.-]+\t[ -~]+)", line) for line in raw.splitlines()
        )
    err = capsys.readouterr().err
    assert (
        err.count("tlsbot: not published: ")
        == err.count("\n")
        == len(planted) + len(HOSTILE_MX) + 2 + 2 + 1
    )
    assert "\x00" not in err


def test_cli_creates_a_missing_directory(
    database: TestDatabase, tmp_path: Path, monkeypatch, capsys
) -> None:
    out = tmp_path / "postfix" / "tlsbot"
    code = run_cli(["export", "postfix", "--out", str(out)], database, monkeypatch)
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["tls_inbound", "tls_policy"]


def test_cli_refuses_a_file_as_directory_in_one_line(
    database: TestDatabase, tmp_path: Path, monkeypatch, capsys
) -> None:
    target = tmp_path / "a-file"
    target.write_text("keep me")
    code = run_cli(["export", "postfix", "--out", str(target)], database, monkeypatch)
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"tlsbot: --out {str(target)!r} cannot be used as a directory: it is a file"
    ]
    assert target.read_text() == "keep me"


def test_cli_refuses_a_database_without_schema_in_one_line(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert run_cli(["export", "postfix", "--out", str(tmp_path)], None, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "tlsbot db upgrade" in err[0]
    assert not (tmp_path / "tls_policy").exists()
