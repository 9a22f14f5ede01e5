"""Shared helpers of the export tests: running the CLI, planting rows, approving changes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, insert
from sqlmodel import Session

from bot import cli
from bot.clock import system_clock
from bot.policy.approvals import approve
from bot.policy.models import DomainPolicy
from bot.policy.requests import propose_add_domains, propose_remove_domains
from bot.probe.model import Verdict
from tests.policy.factories import ANN, BO, RULES, is_approver, validated
from tests.support.db import TestDatabase


def cli_url(database: TestDatabase) -> str:
    """DATABASE_URL for the CLI that reaches the test database (and schema, on PostgreSQL)."""
    if database.schema is None:
        return database.url
    sep = "&" if "?" in database.url else "?"
    return f"{database.url}{sep}options={quote(f'-csearch_path={database.schema}')}"


def run_cli(argv: list[str], database: TestDatabase | None, monkeypatch: pytest.MonkeyPatch) -> int:
    """``tlsbot ARGV`` in-process."""
    if database is not None:
        monkeypatch.setenv("DATABASE_URL", cli_url(database))
    return cli.main(argv)


def plant(engine: Engine, **values: Any) -> None:
    """Insert a policy row directly, past every service and model check."""
    row = {
        "domain": "planted.example",
        "level": "strict",
        "mx_hosts": [],
        "secure_delivery": True,
        "secure_receipt": True,
        "mode": "enforce",
        "status": "active",
        "version": 1,
        "created_at": system_clock(),
        "updated_at": system_clock(),
        **values,
    }
    with engine.begin() as connection:
        connection.execute(insert(DomainPolicy.__table__).values(**row))  # type: ignore[attr-defined]


def approve_added(session: Session, domain: str, verdict: Verdict = Verdict.STRICT) -> None:
    """Validate, propose and approve a policy for ``domain``, as the Slack flow would."""
    validation = validated(session, domain, verdict)
    assert validation.id is not None
    request = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[(domain, validation.id)],
        rules=RULES,
        now=system_clock(),
    )
    assert request.id is not None
    approve(
        session=session,
        request_id=request.id,
        approver=BO,
        is_approver=is_approver,
        now=system_clock(),
    )


def approve_removed(session: Session, domain: str) -> None:
    request = propose_remove_domains(
        session=session, requester=ANN, domains=[domain], rules=RULES, now=system_clock()
    )
    assert request.id is not None
    approve(
        session=session,
        request_id=request.id,
        approver=BO,
        is_approver=is_approver,
        now=system_clock(),
    )
