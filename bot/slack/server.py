"""HTTP mode: an aiohttp application with ``POST /slack/events``, ``GET /healthz`` and
``POST /tlsrpt`` (TLS-RPT reports, :mod:`bot.slack.tlsrpt_route`).

Every Slack request is checked by the edge (:mod:`bot.slack.edge`, :mod:`bot.slack.shape`)
before Bolt sees it, with the signing secret of ``services.settings`` at the instant
``services.clock`` says: a malformed body is answered 400, a stale or forged one 401,
each with a short text and one log line. Only a request that passed is dispatched,
inside :func:`bot.slack.edge.verified`. Socket Mode has no signatures (the socket
itself is authenticated by the app token): :class:`SocketModeEdge` checks the shape
and marks its requests the same way.
"""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.clock import Clock
from bot.slack import shape, tlsrpt_route
from bot.slack.edge import Refused, malformed, read_body, verified, verify
from bot.slack.services import Services

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

log = logging.getLogger("bot.slack.edge")


def make_web_app(app: AsyncApp, services: Services) -> web.Application:
    """The web app; Slack's requests are verified before Bolt sees them."""
    secret = services.settings.slack_signing_secret
    if secret is None:
        raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET")  # serve checks it first
    key, clock = secret.get_secret_value(), services.clock

    async def events(request: web.Request) -> web.Response:
        try:
            bolt_request = await _checked(request, key, clock)
        except Refused as refused:
            log.info("refused %s from %s: %s", refused.status, request.remote, refused.reason)
            return web.Response(status=refused.status, text=refused.text)
        with verified("signature"):
            bolt_response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application(client_max_size=1024 * 1024)
    web_app.router.add_post(EVENTS_PATH, events)
    web_app.router.add_get(HEALTH_PATH, health)
    tlsrpt_route.register(web_app, services)  # POST /tlsrpt: TLS-RPT reports (RFC 8460)
    return web_app


async def _checked(request: web.Request, secret: str, clock: Clock) -> AsyncBoltRequest:
    raw = await request.read()
    text, body = read_body(raw, request.content_type)
    verify(secret, request.headers, raw, now=clock())
    problem = shape.problem(body)
    if problem is not None:
        raise malformed(problem)
    return AsyncBoltRequest(
        body=text,
        query=request.query_string,
        headers=request.headers,  # type: ignore[arg-type]
    )


async def start_http(app: AsyncApp, host: str, port: int, services: Services) -> web.AppRunner:
    """Start serving; the caller keeps the runner and calls ``cleanup()`` to stop."""
    runner = web.AppRunner(make_web_app(app, services), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the HTTP server is not listening")


class SocketModeEdge(AsyncSocketModeHandler):
    """Socket Mode: requests arrive over the app's own authenticated socket."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        payload = req.payload if isinstance(req.payload, dict) else None
        problem = "payload is not an object" if payload is None else shape.problem(payload)
        if problem is not None:
            log.info("refused a Socket Mode request: %s", problem)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        with verified("socket mode"):
            await super().handle(client, req)
