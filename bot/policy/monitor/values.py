"""The value carried by an alert's buttons: which item it is about.

A policy's value is its id (``"42"``); a route's is ``"route:7"``.
"""

from __future__ import annotations

from bot.policy.monitor.alerts import SubjectKind


class BadActionValue(ValueError):
    """A button value that names no policy or route."""


def action_value(kind: SubjectKind, subject_id: str) -> str:
    return subject_id if kind is SubjectKind.POLICY else f"{kind.value}:{subject_id}"


def parse_action_value(value: str) -> tuple[SubjectKind, int]:
    kind, _, rest = value.strip().rpartition(":")
    try:
        subject = SubjectKind(kind) if kind else SubjectKind.POLICY
        number = int(rest)
    except ValueError:
        raise BadActionValue(f"{value!r} is not a policy or route id") from None
    if number < 1:
        raise BadActionValue(f"{value!r} is not a policy or route id")
    return subject, number
