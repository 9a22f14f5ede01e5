"""From the policy store's rows to the plain data the view builders take.

Runs inside a store session (``Store.run``); returns frozen values only, so no
ORM object escapes the thread that loaded it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlmodel import Session

from bot.policy.evidence.traffic import Traffic
from bot.policy.models import ChangeRequest, Validation
from bot.policy.queries import approvals_of, get_request
from bot.policy.types import SYSTEM, RequestKind
from bot.policy.validations import checked
from bot.probe.findings import warnings as probe_warnings
from bot.probe.model import Verdict
from bot.slack.views.model import RequestCard

RELAXED = Verdict.RELAXED.value


def title(request: ChangeRequest) -> str:
    n = len(request.items)
    subjects = [str(i.get("subject")) for i in request.items]
    kind = request.kind
    if kind == RequestKind.ADD_DOMAINS:
        return f"Add {n} external domain{'s' if n != 1 else ''}"
    if kind == RequestKind.REMOVE_DOMAINS:
        return f"Remove {n} external domain{'s' if n != 1 else ''}"
    if kind == RequestKind.ADD_ROUTE:
        return f"Add inbound route {subjects[0]}"
    if kind == RequestKind.REMOVE_ROUTE:
        return f"Remove inbound route {subjects[0]}"
    if kind == RequestKind.DELETE_POLICY:
        return f"Delete the whole TLS policy ({n} domain{'s' if n != 1 else ''})"
    if kind == RequestKind.REVERT:
        return f"Revert change request #{request.payload.get('reverts')}"
    if kind in ("gateway_adopt", "gateway_revert") and request.note:  # Mimecast drift
        return request.note.rstrip(".")
    return f"{kind} ({n} items)"


def item_line(item: dict[str, Any]) -> str:
    op = item.get("op")
    subject = str(item.get("subject"))
    if op == "add_policy":
        return f"{subject} — enforce TLS ({Verdict.label_of(item.get('level'))})"
    if op == "remove_policy":
        return f"{subject} — remove the policy"
    if op == "update_policy":
        line = f"{subject} — change the policy ({item.get('set')})"
        if item.get("traffic"):
            line += f"\n    Real mail: {Traffic.from_dict(item['traffic']).summary()}"
        return line
    if op == "add_route":
        return f"{subject} — add route ({Verdict.label_of(item.get('verdict'))})"
    if op == "remove_route":
        return f"{subject} — remove route"
    if op == "gateway_revert":
        return f"{subject} — put the group back as approved"
    return f"{subject} — {op}"


def _verdict_of(item: dict[str, Any]) -> str | None:
    if item.get("op") == "add_policy":
        return str(item.get("level")) if item.get("level") else None
    if item.get("op") == "add_route":
        return str(item["verdict"]) if item.get("verdict") else None
    return None


def evidence(
    session: Session, request: ChangeRequest
) -> tuple[dict[str, int], list[str], list[str]]:
    """Counts by verdict, problems spelled out, and warnings, for the approval message."""
    counts: Counter[str] = Counter()
    problems: list[str] = []
    warnings: list[str] = []
    for item in request.items:
        op = item.get("op")
        if op not in ("add_policy", "add_route"):
            continue
        verdict = _verdict_of(item)
        counts[Verdict.label_of(verdict)] += 1
        subject = str(item.get("subject"))
        if verdict is None:
            warnings.append(f"{subject} has not been validated.")
            continue
        reason = None
        validation_id = item.get("validation_id")
        found = checked(session.get(Validation, int(validation_id))) if validation_id else None
        if found is not None:
            shown = found.result.reasons_to_show()
            reason = shown[0] if shown else None
            # the probe's warnings (bot.probe.findings), in the words of --json
            warnings += [f"{subject}: {w.message}" for w in probe_warnings(found.result)]
        if not Verdict.ok_value(verdict):
            problems.append(
                f"{subject}: {Verdict.label_of(verdict)}" + (f" — {reason}" if reason else "")
            )
        elif verdict == RELAXED and op == "add_policy":
            why = f" ({reason})" if reason else ""
            warnings.append(
                f"{subject} would be enforced without verified TLS: its certificate is not "
                f"trusted{why}."
            )
    return dict(counts), problems, warnings


def request_card(session: Session, request_id: int) -> RequestCard:
    request = get_request(session=session, request_id=request_id)
    assert request.id is not None
    counts, problems, warnings = evidence(session, request)
    return RequestCard(
        id=request.id,
        title=title(request),
        requester_id=request.requester_id,
        created_at=request.created_at,
        items=tuple(item_line(i) for i in request.items),
        state=request.state,
        counts=counts,
        problems=tuple(problems),
        warnings=tuple(warnings),
        approvals=tuple(
            a.approver_id for a in approvals_of(session=session, request_id=request_id)
        ),
        required=request.required_approvals,
        decided_by=None if request.decided_by_id == SYSTEM.id else request.decided_by_id,
        decided_at=request.decided_at,
        reason=request.reason,
    )
