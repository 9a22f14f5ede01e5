"""``tlsbot observe postfix``: counts stored with the position; resume, rotation, follow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cli import main
from bot.clock import ManualClock
from bot.policy.db import new_session
from bot.policy.evidence import logfile
from bot.policy.evidence.logfile import LogFile
from bot.policy.evidence.models import LogCursor, MailTraffic
from bot.policy.evidence.observe import Observer
from bot.policy.evidence.postfix_log import PostfixLogParser
from bot.policy.evidence.traffic import traffic_for
from tests.evidence.postfix_lines import relay, status, tls
from tests.support.db import TestDatabase

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
MX = relay("mx.p.example")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(database: TestDatabase, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("DATABASE_URL", database.url_with_schema)
    return engine


def observe(*args: str) -> int:
    return main(["observe", "postfix", *args], clock=ManualClock(NOW))


def sent(n: int, level: str = "Verified", pid: int = 11) -> list[str]:
    return [tls(pid, MX, level), status(pid, f"Q{n}", f"u{n}@p.example", MX)]


def write(path: Path, lines: list[str], mode: str = "a") -> None:
    with path.open(mode) as f:
        f.write("".join(line + "\n" for line in lines))


def stored(engine: Engine, domain: str = "p.example") -> dict[str, int]:
    with new_session(engine) as session:
        return dict(traffic_for(session=session, domain=domain, now=NOW, days=7).delivered)


def test_once_json_prints_and_stores_the_counts(env: Engine, tmp_path: Path, capsys) -> None:
    log = tmp_path / "maillog"
    write(log, [*sent(1), *sent(2, "Untrusted"), "not a log line"])
    assert observe("--once", "--json", str(log)) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["domains"] == [
        {
            "domain": "p.example",
            "day": "2026-12-04",
            "delivered": {"untrusted": 1, "verified": 1},
            "deferred": {},
            "tls_versions": {"TLSv1.3": 2},
        }
    ]
    assert (document["lines"], document["unknown"]) == (5, 1)
    assert stored(env) == {"verified": 1, "untrusted": 1}
    with Session(env) as session:
        cursor = session.exec(select(LogCursor)).one()
        assert (cursor.source, cursor.inode, cursor.position) == (
            str(log.resolve()),
            log.stat().st_ino,
            log.stat().st_size,
        )
        assert (cursor.lines, cursor.unknown) == (5, 1)


def test_a_second_run_counts_only_what_was_added(env: Engine, tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    write(log, sent(1))
    assert observe(str(log)) == 0
    assert observe(str(log)) == 0  # nothing new
    write(log, sent(2))
    assert observe(str(log)) == 0
    assert stored(env) == {"verified": 2}


def test_a_tls_line_before_the_restart_joins_the_delivery_after_it(
    env: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "maillog"
    write(log, [tls(11, MX, "Trusted")])
    assert observe(str(log)) == 0
    write(log, [status(11, "Q1", "a@p.example", MX)])
    assert observe(str(log)) == 0
    assert stored(env) == {"trusted": 1}


def test_a_line_still_being_written_waits_for_its_end(env: Engine, tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    line = status(11, "Q1", "a@p.example", MX)
    log.write_text(line[:40])
    assert observe(str(log)) == 0
    assert stored(env) == {}
    with log.open("a") as f:
        f.write(line[40:] + "\n")
    assert observe(str(log)) == 0
    assert stored(env) == {"plaintext": 1}


def test_a_log_rotated_while_nobody_read_it_is_finished_then_the_new_one_read(
    env: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "maillog"
    write(log, sent(1))
    assert observe(str(log)) == 0
    write(log, sent(2))  # written after our run, before rotation
    log.rename(tmp_path / "maillog.20261204-235959")  # postfix logrotate's naming
    write(log, sent(3, "Anonymous"), mode="w")
    assert observe(str(log)) == 0
    assert stored(env) == {"verified": 2, "anonymous": 1}


def test_a_truncated_log_is_read_again_from_its_start(env: Engine, tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    write(log, [*sent(1), *sent(2)])
    assert observe(str(log)) == 0
    write(log, sent(3, "Trusted"), mode="w")  # copytruncate: same inode, shorter
    assert observe(str(log)) == 0
    assert stored(env) == {"verified": 2, "trusted": 1}


def test_follow_keeps_reading_across_rotation(env: Engine, tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    write(log, sent(1))
    clock = ManualClock(NOW)
    observer = Observer(
        reader=LogFile(log),
        parser=PostfixLogParser(now=NOW),
        clock=clock,
        engine=env,
        source=str(log),
        batch_seconds=0.0,
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=observer.run, kwargs={"follow": True, "stop": stop, "poll": 0.02}
    )
    thread.start()
    try:
        wait_for(lambda: stored(env) == {"verified": 1})
        write(log, sent(2, "Trusted"))
        wait_for(lambda: stored(env) == {"verified": 1, "trusted": 1})
        write(log, sent(3, "Trusted"))
        log.rename(tmp_path / "maillog.1")
        write(log, sent(4, "Untrusted"), mode="w")
        wait_for(lambda: stored(env) == {"verified": 1, "trusted": 2, "untrusted": 1})
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_a_second_reader_of_the_same_log_cannot_count_it_twice(
    env: Engine, tmp_path: Path, capsys
) -> None:
    log = tmp_path / "maillog"
    write(log, sent(1))
    first = Observer(
        reader=LogFile(log),
        parser=PostfixLogParser(now=NOW),
        clock=ManualClock(NOW),
        engine=env,
        source=str(log.resolve()),
    )
    assert observe(str(log)) == 0  # another process took it meanwhile
    write(log, sent(2))
    assert observe(str(log)) == 0
    with pytest.raises(Exception, match="another reader"):
        first.run(follow=False)
    assert stored(env) == {"verified": 2}


def test_a_log_that_cannot_be_read_is_one_line_and_exit_1(
    env: Engine, tmp_path: Path, capsys
) -> None:
    assert observe(str(tmp_path / "missing")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot read" in err
    assert "missing" in err


def test_a_database_behind_its_schema_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    log = tmp_path / "maillog"
    write(log, sent(1))
    assert observe(str(log)) == 2
    assert "tlsbot db upgrade" in capsys.readouterr().err


def test_standard_input_is_read_to_its_end_dry_run(tmp_path: Path) -> None:
    lines = [
        *sent(1),
        status(
            11, "Q9", "z@p.example", MX, state="deferred", text="Server certificate not verified"
        ),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "observe", "postfix", "--dry-run", "--json", "-"],
        input="\n".join(lines),  # no newline at the end: the last line still counts
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    day = json.loads(done.stdout)["domains"][0]
    assert day["delivered"] == {"verified": 1}
    assert day["deferred"] == {"certificate-not-verified": 1}
    assert date.fromisoformat(day["day"]).month == 12
    assert not (tmp_path / "unused.db").exists()


def test_counts_of_several_batches_add_up(
    env: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logfile, "CHUNK", 200)  # a few lines per read, as a growing file gives
    log = tmp_path / "maillog"
    write(log, [line for n in range(50) for line in sent(n)])
    observer = Observer(
        reader=LogFile(log),
        parser=PostfixLogParser(now=NOW),
        clock=ManualClock(NOW),
        engine=env,
        source=str(log),
        batch_lines=7,
    )
    report = observer.run(follow=False)
    assert report.commits > 5
    assert stored(env) == {"verified": 50}
    with Session(env) as session:
        rows = session.exec(select(MailTraffic)).all()
        assert {(r.kind, r.name, r.count) for r in rows} == {
            ("delivered", "verified", 50),
            ("version", "TLSv1.3", 50),
        }
        assert session.exec(select(LogCursor)).one().position == log.stat().st_size
