"""Several replicas: two ``tlsbot monitor --once`` processes at once check each due item once.

The processes are real (``python -m bot monitor --once``) and share the test database
(PostgreSQL when TLSBOT_TEST_DATABASE_URL is set — its own schema, reached through
``search_path`` — else the SQLite file). They may reach only the loopback DNS and SMTP
servers this test runs: the test's network guard does not follow them into subprocesses.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.clock import system_clock
from bot.policy.models import DomainPolicy, Validation
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from tests.support.certs import CertCase, Pki
from tests.support.db import TestDatabase
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import SmtpFleet, SmtpServer, free_port

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = 24
BROKEN = {3, 11, 20}  # these serve a self-signed certificate: one alert each


def database_url(database: TestDatabase) -> str:
    if database.schema is None:
        return database.url
    sep = "&" if "?" in database.url else "?"
    return f"{database.url}{sep}options={quote(f'-csearch_path={database.schema}')}"


def spawn(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "monitor", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_monitor_processes_check_each_due_item_once(
    database: TestDatabase, engine: Engine, session: Session, monitor_pki: Pki
) -> None:
    port = free_port()
    records: dict[str, Any] = {}
    servers = []
    for i in range(DOMAINS):
        mx, address = f"mx.d{i}.test", f"127.0.5.{i + 2}"
        records[f"d{i}.test"] = {"MX": f"10 {mx}."}
        records[mx] = {"A": address}
        case = CertCase.SELF_SIGNED if i in BROKEN else CertCase.TRUSTED
        # a slow server (50 ms a reply), so that the two processes overlap
        servers.append(
            SmtpServer(address, port, cert=monitor_pki.serve(case, mx), name=mx, reply_delay=0.05)
        )
        session.add(
            DomainPolicy(
                domain=f"d{i}.test",
                level="strict",
                mx_hosts=[mx],
                created_at=system_clock(),
                updated_at=system_clock(),
            )
        )
    session.commit()
    # every item was last checked a period ago: all are due now
    past = datetime.now(UTC) - timedelta(minutes=1)
    for policy in session.exec(select(DomainPolicy)).all():
        assert policy.id is not None
        session.add(
            MonitorItem(
                subject="policy",
                subject_id=policy.id,
                name=policy.domain,
                next_check_at=past,
                created_at=system_clock(),
            )
        )
    session.commit()

    with DnsServer(records) as dns, SmtpFleet(servers):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TLSBOT_", "SLACK_")) and k != "DATABASE_URL"
        }
        env.update(
            DATABASE_URL=database_url(database),
            TLSBOT_DNS_SERVERS="{}:{}".format(*dns.servers[0]),
            TLSBOT_SMTP_PORT=str(port),
            TLSBOT_CA_FILE=str(monitor_pki.ca_file),
            TLSBOT_PROBE_ALLOW_NETWORKS="127.0.0.0/8",
            TLSBOT_PROBE_TIMEOUT="5",
            TLSBOT_PROBE_CONCURRENCY="2",
            TLSBOT_EHLO_NAME="probe.example.test",
        )
        workers = [spawn(env), spawn(env)]
        outputs = [w.communicate(timeout=100) for w in workers]

    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    checked = [int(re.search(r"checked (\d+)", out).group(1)) for out, _ in outputs]  # type: ignore[union-attr]
    assert sum(checked) == DOMAINS
    if database.is_postgresql:  # row locks let both work at once; SQLite serialises writers
        assert all(n > 0 for n in checked), f"one process did all the work: {checked}"

    per_domain = Counter(session.exec(select(Validation.domain)).all())
    assert per_domain == Counter({f"d{i}.test": 1 for i in range(DOMAINS)})
    items = session.exec(select(MonitorItem)).all()
    assert [i.checks for i in items] == [1] * DOMAINS
    assert all(i.lease_owner is None and i.next_check_at > past for i in items)
    # each broken domain raised one alert, posted (to the console) by exactly one process
    alerts = session.exec(select(MonitorAlert)).all()
    assert sorted(a.name for a in alerts) == sorted(f"d{i}.test" for i in BROKEN)
    printed = [line for out, _ in outputs for line in out.splitlines() if "[CRITICAL]" in line]
    assert sorted(line.split()[1].rstrip(":") for line in printed) == sorted(
        f"d{i}.test" for i in BROKEN
    )
