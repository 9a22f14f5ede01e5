"""Probe results and actors for the policy tests (no network: results are built by hand)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.models import Validation
from bot.policy.requests import Rules
from bot.policy.types import Actor
from bot.policy.validations import record_validation
from bot.probe.model import Code, HostResult, Reason, TargetKind, TargetResult, Verdict

ANN = Actor("U0ANN", "Ann Admin")  # requester
BO = Actor("U0BO", "Bo Approver")
CY = Actor("U0CY", "Cy Approver")
EVE = Actor("U0EVE", "Eve Outsider")
APPROVERS = frozenset({BO.id, CY.id, ANN.id})


def is_approver(user_id: str) -> bool:
    return user_id in APPROVERS


RULES = Rules(required_approvals=1, request_ttl_hours=72)


def domain_result(domain: str, verdict: Verdict = Verdict.STRICT) -> TargetResult:
    host = f"mx1.{domain}"
    reasons = () if verdict is Verdict.STRICT else (Reason(Code.SELF_SIGNED, "self-signed"),)
    return TargetResult(
        target=domain,
        kind=TargetKind.DOMAIN,
        domain=domain,
        verdict=verdict,
        hosts=(
            HostResult(
                host=host,
                address="192.0.2.10",
                port=25,
                verdict=verdict,
                reasons=reasons,
                reached=True,
                starttls_offered=True,
                tls_version="TLSv1.3",
                cipher="TLS_AES_256_GCM_SHA384",
            ),
        ),
        mx=(host,),
    )


def route_result(route: str, verdict: Verdict = Verdict.STRICT) -> TargetResult:
    host, _, port = route.partition(":")
    return TargetResult(
        target=route,
        kind=TargetKind.ROUTE,
        domain=host,
        verdict=verdict,
        hosts=(HostResult(host=host, address="127.0.0.1", port=int(port or 25), verdict=verdict),),
    )


def validated(
    session: Session, domain: str, verdict: Verdict = Verdict.STRICT, *, now: datetime | None = None
) -> Validation:
    """A stored validation of ``domain``: at ``now`` when the test fixes an instant."""
    return record_validation(
        session=session,
        result=domain_result(domain, verdict),
        actor=ANN,
        now=now or system_clock(),
    )
