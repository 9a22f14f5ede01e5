"""``POST /tlsrpt`` on the serve port: TLS-RPT reports delivered over HTTPS (RFC 8460 §5.3).

Not a Slack request and not signed: any reporting MTA may post. The body is read
in bounded pieces (at most :data:`MAX_REPORT_BYTES`, whatever the app's Slack
body limit), validated, and stored once per ``report-id`` in a worker thread.
Answers: 201 stored, or already stored (a sender's retry changes nothing), 4xx with one line
naming what is wrong (400 bad report, 413 too large, 415 wrong media type), and
nothing is stored then.
"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlmodel import Session

from bot.policy.evidence.reports import Stored, store_report
from bot.policy.evidence.tlsrpt import MAX_REPORT_BYTES, Report, ReportRefused, from_http
from bot.slack.services import Services

TLSRPT_PATH = "/tlsrpt"

log = logging.getLogger("bot.tlsrpt")


def register(web_app: web.Application, services: Services) -> None:
    async def receive(request: web.Request) -> web.Response:
        try:
            body = await _bounded_body(request)
            report = from_http(body, request.headers.get("Content-Type"), now=services.clock())
        except ReportRefused as exc:
            refusal = web.Response(status=exc.status, text=f"{exc}\n")
            if exc.status == 413:
                refusal.force_close()  # the rest of the body is not read: drop the connection
            return refusal
        stored = await services.store.run(lambda session: _store(session, report, services))
        log.info(
            "TLS-RPT report %s from %s %s",
            report.report_id,
            report.organization,
            "already stored" if stored.duplicate else "stored",
        )
        # 201 either way (RFC 8460 §5.3): a retried report was submitted successfully too
        what = "already stored" if stored.duplicate else "stored"
        return web.Response(status=201, text=f"report {report.report_id} {what}\n")

    web_app.router.add_post(TLSRPT_PATH, receive)


def _store(session: Session, report: Report, services: Services) -> Stored:
    return store_report(session=session, report=report, via="http", now=services.clock())


async def _bounded_body(request: web.Request) -> bytes:
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > MAX_REPORT_BYTES:
            raise ReportRefused(f"the report is larger than {MAX_REPORT_BYTES // 2**20} MiB", 413)
    return bytes(body)
