"""Probe results of partners that publish DANE and MTA-STS, and their admission as policies."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.approvals import approve
from bot.policy.requests import propose_add_domains
from bot.policy.validations import record_validation
from bot.probe.model import DaneResult, DaneStatus, Dnssec, DomainExtras, TargetResult, Verdict
from tests.policy.factories import ANN, BO, RULES, domain_result, is_approver


def dane_result(domain: str) -> TargetResult:
    """A validation of ``domain`` whose one MX host was DANE-verified (self-signed)."""
    result = domain_result(domain, Verdict.STRICT)
    (host,) = result.hosts
    verified = DaneResult(DaneStatus.VALID, "DANE verified (3 1 1 matches)", matched="3 1 1")
    extras = DomainExtras(
        mta_sts_txt="v=STSv1; id=7",
        mta_sts_mode="enforce",
        mta_sts_mx=(f"*.{domain}",),
        mta_sts_id="7",
    )
    return replace(
        result,
        dnssec=Dnssec.SECURE,
        hosts=(replace(host, dane=verified, dnssec=Dnssec.SECURE),),
        extras=extras,
    )


def admit(session: Session, result: TargetResult) -> None:
    validation = record_validation(session=session, result=result, actor=ANN, now=system_clock())
    assert validation.id is not None
    request = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[(result.domain, validation.id)],
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
