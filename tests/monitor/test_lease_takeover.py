"""A replica killed mid-sweep loses nothing: its leases expire and the others take its items.

Three real processes (``python -m tests.monitor.sweeper``: the monitor's own sweep on
the real clock, with a 3-second lease set through ``MonitorConfig.lease`` and a
stand-in prober) share one database (PostgreSQL when TLSBOT_TEST_DATABASE_URL is set,
in this session's schema). One of them claims a batch and hangs; the test kills it
with SIGKILL. The two others check every other item, wait out the dead one's
leases, then check its items too: every due item is checked exactly once, and the
dead replica's items only after their leases expired.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from bot.clock import as_utc, system_clock
from bot.policy.models import Validation
from bot.policy.monitor.models import MonitorItem
from bot.policy.monitor.store import sync_items
from tests.monitor.test_replicas import database_url
from tests.support.bulk import add_policies
from tests.support.db import TestDatabase

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = 60
LEASE = 3.0


def spawn(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.monitor.sweeper", "--lease", str(LEASE), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(worker: subprocess.Popen[str]) -> tuple[str, str]:
    """The rest of a worker's output (read through its file objects: ``readline`` may have
    buffered some already, which ``communicate`` would not see)."""
    assert worker.stdout is not None
    assert worker.stderr is not None
    out, err = worker.stdout.read(), worker.stderr.read()
    worker.wait(90)
    return out, err


def test_killing_one_of_three_replicas_mid_sweep_loses_no_item(
    database: TestDatabase, engine: Engine, session: Session
) -> None:
    now = system_clock()
    add_policies(engine, DOMAINS, now=now, prefix="lease")
    sync_items(session=session, now=now, period=timedelta(hours=24))
    session.execute(update(MonitorItem).values(next_check_at=now - timedelta(minutes=1)))
    session.commit()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TLSBOT_", "SLACK_")) and k != "DATABASE_URL"
    }
    env["DATABASE_URL"] = database_url(database)

    # the victim starts first, claims a batch and sits on it
    victim = spawn(env, "--hang")
    assert victim.stdout is not None
    claimed = []
    while len(claimed) < 5:
        line = victim.stdout.readline()
        assert line, victim.stderr.read() if victim.stderr else "the victim exited"
        claimed.append(line.split()[1])
    leases = {
        i.name: as_utc(i.lease_until)
        for i in session.exec(select(MonitorItem).where(col(MonitorItem.name).in_(claimed)))
        if i.lease_until is not None
    }
    assert sorted(leases) == sorted(claimed)
    workers = [spawn(env), spawn(env)]
    assert workers[0].stdout is not None
    first = workers[0].stdout.readline()  # the others are under way: now the victim dies
    assert first.startswith("probe "), first
    victim.kill()
    victim.wait(10)
    outputs = [finish(w) for w in workers]
    outputs[0] = (first + outputs[0][0], outputs[0][1])

    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    probes = Counter(
        line.split()[1]
        for out, _ in outputs
        for line in out.splitlines()
        if line.startswith("probe")
    )
    every = {f"lease{i}.example" for i in range(DOMAINS)}
    assert probes == Counter(every)  # each due item probed once, the victim's ones too
    assert sum(int(out.split("done ")[1]) for out, _ in outputs) == DOMAINS
    session.expire_all()
    checks = Counter(session.exec(select(Validation.domain)).all())
    assert checks == Counter(every)
    items = session.exec(select(MonitorItem)).all()
    assert [i.checks for i in items] == [1] * DOMAINS
    assert all(i.lease_owner is None for i in items)
    # the dead replica's items were checked by the others, after its leases had expired
    for validation in session.exec(select(Validation).where(col(Validation.domain).in_(claimed))):
        assert as_utc(validation.created_at) >= leases[validation.domain]
