"""Validate a whole batch after the ack: probes in parallel, progress in the view.

Each finished probe is recorded as evidence and attached to its draft line at
once (so another replica rendering the list sees it). The view shows
"Validating 17 of 50…", updated no more than once a second; if the user closed
the modal meanwhile, the result arrives by direct message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy import drafts
from bot.policy.errors import NotFound
from bot.policy.types import Actor
from bot.policy.validations import record_validation
from bot.probe.model import TargetResult
from bot.slack.flow import domains_for, show, with_draft
from bot.slack.replies import dm
from bot.slack.services import Services
from bot.slack.views.kit import chunk_lines, mrkdwn, section
from bot.slack.views.meta import Meta
from bot.slack.views.model import Progress
from bot.slack.views.results import first_reason, verdict_text

PROGRESS_INTERVAL = 1.0  # seconds between progress updates of one view


@dataclass(frozen=True, slots=True)
class Line:
    id: int
    domain: str
    email: str | None = None

    @property
    def key(self) -> str:
        return f"l{self.id}"


def save_result(
    session: Session,
    *,
    draft_id: int,
    line_id: int,
    result: TargetResult,
    actor: Actor,
    now: datetime,
) -> None:
    validation = record_validation(session=session, result=result, actor=actor, now=now)
    assert validation.id is not None
    validation_id = validation.id
    # A line removed while its probe ran: keep the evidence, drop the link.
    with contextlib.suppress(NotFound):
        with_draft(
            session,
            draft_id,
            lambda d: drafts.attach_validation(
                session=session,
                draft_id=draft_id,
                version=d.version,
                line_id=line_id,
                validation_id=validation_id,
                actor=actor,
                now=now,
            ),
        )


class Run:
    def __init__(
        self,
        services: Services,
        client: AsyncWebClient,
        *,
        actor: Actor,
        draft_id: int,
        view_id: str,
        meta: Meta,
        lines: list[Line],
    ) -> None:
        self.services = services
        self.client = client
        self.actor = actor
        self.draft_id = draft_id
        self.view_id = view_id
        self.meta = meta
        self.lines = lines
        self.waiting = {line.key for line in lines}
        self.results: list[TargetResult] = []
        self.view_open = True
        self._last = time.monotonic()
        self._updating = asyncio.Lock()
        self._saving = asyncio.Lock()

    async def run(self) -> None:
        outcomes = await asyncio.gather(
            *(self._one(line) for line in self.lines), return_exceptions=True
        )
        await self._update(final=True)
        if not self.view_open:
            await self._tell()
        for outcome in outcomes:  # a bug in one line's probe: the rest still finished
            if isinstance(outcome, BaseException):
                raise outcome

    async def _one(self, line: Line) -> None:
        result = await self.services.prober.probe_domain(line.domain, email=line.email)
        async with self._saving:  # one draft write at a time: no version races among ourselves
            await self.services.store.run(
                lambda s: save_result(
                    s,
                    draft_id=self.draft_id,
                    line_id=line.id,
                    result=result,
                    actor=self.actor,
                    now=self.services.clock(),
                )
            )
        self.results.append(result)
        self.waiting.discard(line.key)
        if time.monotonic() - self._last >= PROGRESS_INTERVAL and not self._updating.locked():
            await self._update(final=False)

    async def _update(self, *, final: bool) -> None:
        if not self.view_open:
            return
        async with self._updating:
            self._last = time.monotonic()
            progress = None if final else Progress(len(self.results), len(self.lines))
            waiting = frozenset() if final else frozenset(self.waiting)
            view = await domains_for(
                self.services, self.draft_id, self.meta, progress=progress, validating=waiting
            )
            self.view_open = await show(self.client, self.view_id, view)
            self._last = time.monotonic()

    async def _tell(self) -> None:
        ok = sum(1 for r in self.results if r.verdict.ok)
        head = mrkdwn(
            "Validation of {} external domains finished: {} support TLS.", len(self.results), ok
        )
        lines = []
        for result in sorted(self.results, key=lambda r: r.domain):
            reason = first_reason(result)
            why = mrkdwn(" — {}", reason) if reason and not result.verdict.ok else ""
            verdict = verdict_text(result.verdict, domain=True)
            lines.append(mrkdwn("*{}*: {}{}", result.domain, verdict, why))
        blocks = [section(head)] + [section(t) for t in chunk_lines(lines)[:40]]
        blocks.append(section(mrkdwn("Open `/tls setup` to go on: *Finish* submits the list.")))
        await dm(self.client, self.actor.id, head, blocks)
