"""``/tls status DOMAIN`` says what the partner publishes: DNSSEC, DANE, MTA-STS."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.monitor.history import domain_status
from bot.slack.views.reports import domain_status_message
from tests.support.partner_results import admit, dane_result
from tests.support.slack_api import all_text

pytestmark = pytest.mark.db


def test_status_shows_what_the_partner_publishes(session: Session) -> None:
    admit(session, dane_result("dane.example"))
    status = domain_status(session=session, domain="dane.example", now=system_clock())
    assert status.partner is not None
    text = all_text(domain_status_message(None, "dane.example", status))
    assert (
        "*Partner publishes:* DNSSEC: the MX records are signed and validate (secure); "
        "DANE: verified on every MX host, so enforced as dane-only; "
        "MTA-STS: policy (id 7) in enforce mode, mx: *.dane.example"
    ) in text
