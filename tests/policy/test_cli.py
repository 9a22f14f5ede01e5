"""``tlsbot db`` and ``tlsbot audit``, run in-process through ``bot.cli.main``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import cli
from bot.clock import system_clock
from bot.policy import audit
from bot.policy.audit import AuditAction
from bot.policy.db import head_revision, make_engine, new_session, open_checked, transaction
from bot.policy.errors import SchemaOutdated
from tests.policy.factories import ANN
from tests.support.db import TestDatabase, append_only_suspended

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def _ehlo_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSBOT_EHLO_NAME", "tlsbot.test")


@pytest.fixture
def fresh_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_db_upgrade_creates_then_reports_up_to_date(capsys, fresh_url: str) -> None:
    code, out, err = _run(capsys, "db", "check")
    assert code == 1
    assert "run `tlsbot db upgrade`" in err
    code, out, _ = _run(capsys, "db", "upgrade")
    assert code == 0
    assert f"schema upgraded from empty to {head_revision()}" in out
    code, out, _ = _run(capsys, "db", "upgrade")
    assert (code, "already up to date" in out) == (0, True)
    code, out, _ = _run(capsys, "db", "check")
    assert (code, "up to date" in out) == (0, True)
    open_checked(fresh_url).dispose()


def test_serve_check_refuses_an_outdated_schema_in_one_line(fresh_url: str) -> None:
    with pytest.raises(SchemaOutdated) as info:
        open_checked(fresh_url)
    assert str(info.value) == "the database has no tlsbot schema yet: run `tlsbot db upgrade`"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("mysql://u@h/db", "tlsbot supports sqlite and postgresql", id="backend"),
        pytest.param(
            "sqlite:////nonexistent-dir/x/tlsbot.db", "cannot open the database", id="path"
        ),
    ],
)
def test_bad_database_is_one_line_not_a_traceback(capsys, monkeypatch, url, message) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    code, _, err = _run(capsys, "db", "upgrade")
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def _seed(database_url: str, n: int) -> None:
    engine = make_engine(database_url)
    with new_session(engine) as session, transaction(session):
        for i in range(n):
            audit.append(
                session=session,
                actor=ANN,
                action=AuditAction.REQUEST_CREATED,
                subject=f"request #{i}",
                after={"i": i},
                request_id=i,
                now=system_clock(),
            )
    engine.dispose()


def test_audit_verify_ok_then_broken(capsys, fresh_url: str) -> None:
    assert _run(capsys, "db", "upgrade")[0] == 0
    _seed(fresh_url, 4)
    code, out, _ = _run(capsys, "audit", "verify")
    assert (code, out.strip()) == (0, "OK: 4 audit events, chain intact")
    engine = make_engine(fresh_url)
    with engine.begin() as c, append_only_suspended(c):  # someone who may drop triggers
        c.execute(text("UPDATE audit_event SET subject = 'x' WHERE seq = 2"))
    engine.dispose()
    code, out, err = _run(capsys, "audit", "verify")
    assert code == 1
    assert err.strip() == "BROKEN: event #2 was altered: its hash does not match"


def test_audit_verify_on_an_empty_database_says_what_to_run(capsys, fresh_url: str) -> None:
    code, _, err = _run(capsys, "audit", "verify")
    assert code == 2
    assert err.strip() == (
        "tlsbot audit: the database has no tlsbot schema yet: run `tlsbot db upgrade`"
    )


def test_audit_export_jsonl_to_stdout_and_csv_to_file(capsys, fresh_url: str, tmp_path) -> None:
    _run(capsys, "db", "upgrade")
    _seed(fresh_url, 3)
    code, out, _ = _run(capsys, "audit", "export", "--format", "jsonl")
    assert code == 0
    assert [json.loads(line)["subject"] for line in out.splitlines()] == [
        "request #0",
        "request #1",
        "request #2",
    ]
    target = tmp_path / "trail.csv"
    code, out, err = _run(capsys, "audit", "export", "--format", "csv", "--out", str(target))
    assert code == 0
    assert f"wrote 3 audit events to {target}" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["seq"] for r in rows] == ["1", "2", "3"]
    assert (
        sorted(p.name for p in tmp_path.iterdir())
        == ["cli.db", "cli.db-shm", "cli.db-wal", "trail.csv"]
        or target.exists()
    )


def test_audit_export_refuses_a_missing_directory(capsys, fresh_url: str, tmp_path) -> None:
    _run(capsys, "db", "upgrade")
    code, _, err = _run(capsys, "audit", "export", "--out", str(tmp_path / "no" / "t.jsonl"))
    assert code == 2
    assert "no such directory" in err


def test_audit_export_rejects_an_unknown_format(capsys, fresh_url: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["audit", "export", "--format", "xml"])
    assert info.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_commands_work_on_the_shared_test_database(
    capsys, database: TestDatabase, engine, monkeypatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database.url_with_schema)
    code, out, _ = _run(capsys, "db", "upgrade")
    assert (code, "already up to date" in out) == (0, True)
    _seed(database.url_with_schema, 2)
    code, out, _ = _run(capsys, "audit", "verify")
    assert (code, out.strip()) == (0, "OK: 2 audit events, chain intact")
