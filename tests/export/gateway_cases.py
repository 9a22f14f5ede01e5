"""Policies for the hand-over golden files: strict, relaxed and inbound-only, at a fixed stamp."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.export.gateway import Stamp
from bot.export.model import Level, PublishedPolicy
from bot.export.names import Enforcement, enforcement

POLICIES = (
    PublishedPolicy(
        "partner.example", Level.STRICT, ("mx1.partner.example", "mx2.partner.example")
    ),
    PublishedPolicy("bank.example", Level.STRICT, ("mx.bank.example",), receipt=False),
    PublishedPolicy("old-crm.example", Level.RELAXED, ("mail.old-crm.example",)),
    PublishedPolicy("xn--bcher-kva.example", Level.RELAXED, ("mx.xn--bcher-kva.example",)),
    PublishedPolicy("payroll.example", Level.STRICT, ("mx.payroll.example",), delivery=False),
)

STAMP = Stamp(
    at=datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC),
    source_seq=41,
    source_hash="ab" * 32,
    event_seq=42,
)


def view() -> Enforcement:
    return enforcement(POLICIES)
