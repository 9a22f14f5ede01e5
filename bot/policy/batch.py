"""Batch entry: pasted text → domains, each line classified.

Pure parsing (:func:`split_entries`) plus one query-backed classification
(:func:`check_batch`). Lines are one domain each; commas and blank lines are
tolerated. A batch holds at most :data:`MAX_BATCH` domains; more is an error
*value* (``BatchCheck.error``), not an exception, so the caller can show it.
Every line gets a :class:`LineStatus`:

``ok`` · ``invalid`` (with why) · ``duplicate`` (in this batch) ·
``exists`` (already has a policy) · ``pending`` (already in another pending request).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.policy.models import DomainPolicy
from bot.policy.queries import pending_subjects
from bot.policy.types import RecordStatus
from bot.probe.names import MAX_DOMAIN_LENGTH, InvalidName, normalise_domain

MAX_BATCH = 50
MAX_TEXT = 100_000  # characters of pasted text
SHOW = 80  # characters of a line shown back


class LineStatus(enum.StrEnum):
    OK = "ok"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    EXISTS = "exists"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class BatchLine:
    number: int  # 1-based position in the batch
    text: str  # the line as shown (trimmed, at most SHOW characters)
    domain: str | None  # normalised, when the line is a valid domain
    status: LineStatus
    reason: str | None = None  # one sentence, for every status but ok

    @property
    def ok(self) -> bool:
        return self.status is LineStatus.OK


@dataclass(frozen=True, slots=True)
class BatchCheck:
    lines: tuple[BatchLine, ...] = ()
    error: str | None = None  # the whole batch is unusable (too many, empty, too long)

    @property
    def ok_lines(self) -> tuple[BatchLine, ...]:
        return tuple(line for line in self.lines if line.ok)

    @property
    def problems(self) -> tuple[BatchLine, ...]:
        return tuple(line for line in self.lines if not line.ok)

    @property
    def clean_domains(self) -> tuple[str, ...]:
        return tuple(line.domain for line in self.ok_lines if line.domain)


def shown(text: str) -> str:
    return text if len(text) <= SHOW else text[: SHOW - 1] + "…"


def split_entries(text: str) -> list[str]:
    """One entry per line; commas also separate; blank entries dropped."""
    return [part.strip() for part in re.split(r"[\r\n,]+", text) if part.strip()]


def _normalise(entry: str) -> str:
    if len(entry) > MAX_DOMAIN_LENGTH:
        raise InvalidName(
            f"the line is {len(entry)} characters long; a domain has at most {MAX_DOMAIN_LENGTH}"
        )
    return normalise_domain(entry)


def check_batch(
    *,
    session: Session,
    text: str,
    already: Sequence[str] = (),
    limit: int = MAX_BATCH,
    exclude_request: int | None = None,
) -> BatchCheck:
    """Classify the domains in ``text``; ``already`` are domains in the batch so far."""
    if len(text) > MAX_TEXT:
        return BatchCheck(error=f"That is more than {MAX_TEXT:,} characters; paste fewer domains.")
    entries = split_entries(text)
    if not entries:
        return BatchCheck(error="Paste at least one domain, one per line.")
    total = len(entries) + len(already)
    if total > limit:
        have = f" ({len(already)} already in the list)" if already else ""
        return BatchCheck(
            error=f"That makes {total} domains{have}; at most {limit} fit in one batch. "
            f"Add up to {max(limit - len(already), 0)} now and the rest in another batch."
        )
    parsed: list[tuple[str, str | None, str | None]] = []
    for entry in entries:
        try:
            parsed.append((entry, _normalise(entry), None))
        except InvalidName as exc:
            parsed.append((entry, None, f"{exc}"))
    names = {domain for _, domain, _ in parsed if domain}
    existing = set(
        session.exec(
            select(DomainPolicy.domain).where(
                col(DomainPolicy.domain).in_(names),
                col(DomainPolicy.status) == RecordStatus.ACTIVE,
            )
        )
    )
    pending = pending_subjects(session=session, exclude=exclude_request)
    first_seen: dict[str, int] = dict.fromkeys(already, 0)
    lines = []
    for number, (entry, domain, why) in enumerate(parsed, start=len(already) + 1):
        if domain is None:
            status, reason = LineStatus.INVALID, why
        elif domain in first_seen:
            at = first_seen[domain]
            status = LineStatus.DUPLICATE
            reason = f"{domain} is already in this batch" + (f" (line {at})" if at else "")
        elif domain in existing:
            status, reason = LineStatus.EXISTS, f"{domain} already has a TLS policy"
        elif domain in pending:
            status = LineStatus.PENDING
            reason = f"{domain} is already in pending change request #{pending[domain]}"
        else:
            status, reason = LineStatus.OK, None
        if domain is not None:
            first_seen.setdefault(domain, number)
        lines.append(BatchLine(number, shown(entry), domain, status, reason))
    return BatchCheck(lines=tuple(lines))
