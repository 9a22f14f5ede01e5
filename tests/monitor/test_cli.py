"""``tlsbot monitor`` in process, and ``run_monitor`` as the background task of ``serve``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cli import main
from bot.clock import ManualClock
from bot.config import Settings
from bot.policy.monitor.alerts import Condition
from bot.policy.monitor.models import MonitorItem
from bot.policy.monitor.runner import run_monitor
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.store import sync_items
from bot.probe.model import TargetResult, Verdict
from tests.monitor.harness import add_policy
from tests.monitor.results import host, result
from tests.monitor.scripted import ScriptedProber
from tests.monitor.test_replicas import ROOT, database_url
from tests.support.certs import CertCase, Pki
from tests.support.db import TestDatabase
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import SmtpFleet, SmtpServer, free_port

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        pytest.param(
            ["--once"],
            {"TLSBOT_REVALIDATE_HOURS": "soon"},
            2,
            "TLSBOT_REVALIDATE_HOURS='soon' is not a number",
            id="bad-setting",
        ),
        pytest.param(
            ["--once"],
            {"DATABASE_URL": "mysql://x/y"},
            1,
            "tlsbot supports sqlite and postgresql",
            id="unsupported-database",
        ),
        pytest.param(
            ["--once"],
            {"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/test"},
            1,
            "cannot open the database",
            id="database-down",
        ),
    ],
)
def test_bad_input_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: dict[str, str],
    code: int,
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["monitor", *args]) == code
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_all_needs_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["monitor", "--all"])
    assert exit_info.value.code == 2
    assert "--all needs --once" in capsys.readouterr().err


def test_a_database_without_the_schema_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["monitor", "--once"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "tlsbot: the database has no tlsbot schema yet: run `tlsbot db upgrade`"
    ]


@pytest.fixture
def loopback(monitor_pki: Pki) -> Iterator[dict[str, str]]:
    port = free_port()
    records = {
        "good.test": {"MX": "10 mx.good.test."},
        "mx.good.test": {"A": "127.0.6.2"},
        "bad.test": {"MX": "10 mx.bad.test."},
        "mx.bad.test": {"A": "127.0.6.3"},
    }
    servers = [
        SmtpServer("127.0.6.2", port, cert=monitor_pki.serve(CertCase.TRUSTED, "mx.good.test")),
        SmtpServer("127.0.6.3", port, cert=monitor_pki.serve(CertCase.SELF_SIGNED, "mx.bad.test")),
    ]
    with DnsServer(records) as dns, SmtpFleet(servers):
        yield {
            "TLSBOT_DNS_SERVERS": "{}:{}".format(*dns.servers[0]),
            "TLSBOT_SMTP_PORT": str(port),
            "TLSBOT_CA_FILE": str(monitor_pki.ca_file),
            "TLSBOT_PROBE_ALLOW_NETWORKS": "127.0.0.0/8",
            "TLSBOT_PROBE_TIMEOUT": "3",
            "TLSBOT_EHLO_NAME": "probe.example.test",
        }


@pytest.mark.db
def test_once_all_checks_everything_now_and_prints_the_alerts(
    database: TestDatabase,
    session: Session,
    loopback: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_policy(session, "good.test", ["mx.good.test"])
    add_policy(session, "bad.test", ["mx.bad.test"])
    for name, value in {**loopback, "DATABASE_URL": database_url(database)}.items():
        monkeypatch.setenv(name, value)
    # nothing is due yet: the first slots are spread over the coming period
    assert main(["monitor", "--once"]) == 0
    assert capsys.readouterr().out.strip() == "checked 0, raised 0, resolved 0, delivered 0"
    assert main(["monitor", "--once", "--all"]) == 0
    out = capsys.readouterr().out
    assert "[CRITICAL] bad.test: bad.test dropped from Strict - Trusted Enforced" in out
    assert "Actions: Re-check now | Relax to encrypt | Suspend policy" in out
    assert out.strip().endswith("checked 2, raised 1, resolved 0, delivered 1")
    assert main(["monitor", "--once", "--all"]) == 0  # no repeat
    assert capsys.readouterr().out.strip() == "checked 2, raised 0, resolved 0, delivered 0"
    assert os.environ["DATABASE_URL"] == database_url(database)


class Exploding(ScriptedProber):
    async def probe_domain(self, domain: str) -> TargetResult:
        if domain == "boom.test":
            raise RuntimeError("a bug in the probe")
        return await super().probe_domain(domain)


@pytest.mark.db
async def test_run_monitor_works_in_the_background_until_stopped(
    engine: Engine, session: Session
) -> None:
    add_policy(session, "down.test", ["mx1.down.test"])
    add_policy(session, "boom.test", ["mx1.boom.test"])
    prober = Exploding(
        {"down.test": result("down.test", host("mx1.down.test", Verdict.UNSUPPORTED))}
    )
    now = datetime.now(UTC)
    sync_items(session=session, now=now, period=timedelta(hours=24))
    sink, stop = RecordingSink(), asyncio.Event()
    clock = ManualClock(now + timedelta(hours=25))  # a period later: every item is due
    task = asyncio.create_task(
        run_monitor(
            Settings(),
            sink=sink,
            stop_event=stop,
            clock=clock,
            engine=engine,
            prober=prober,
            poll=0.05,
        )
    )
    for _ in range(200):
        if sink.sent:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert [a.condition for a in sink.sent] == [Condition.LEVEL_DROP]
    assert prober.calls["down.test"] >= 1
    # the item whose probe crashed is left alone for a while, not retried in a tight loop
    items = {i.name: i for i in session.exec(select(MonitorItem)).all()}
    boom = items["boom.test"]
    session.refresh(boom)
    assert boom.lease_owner is None
    assert boom.checks == 0
    assert boom.lease_until == clock() + timedelta(minutes=10)


@pytest.mark.db
def test_the_worker_runs_until_sigterm(database: TestDatabase, engine: Engine) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TLSBOT_", "SLACK_")) and k != "DATABASE_URL"
    }
    env.update(DATABASE_URL=database_url(database), TLSBOT_EHLO_NAME="probe.example.test")
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "monitor"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        assert "running" in worker.stderr.readline()
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=20)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert "Traceback" not in err
