"""HTTP mode: an aiohttp application with ``POST /slack/events`` and ``GET /healthz``.

Every request is checked by the edge (:mod:`bot.slack.edge`, :mod:`bot.slack.shape`)
before Bolt sees it: a malformed body is answered 400, a stale or forged one 401,
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
from bot.slack import shape
from bot.slack.edge import Refused, malformed, read_body, verified, verify

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

log = logging.getLogger("bot.slack.edge")


def make_web_app(app: AsyncApp, *, secret: str, clock: Clock) -> web.Application:
    """The web app; requests are verified with ``secret`` at the instant ``clock`` says."""

    async def events(request: web.Request) -> web.Response:
        try:
            bolt_request = await _checked(request, secret, clock)
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


async def start_http(
    app: AsyncApp, host: str, port: int, *, secret: str, clock: Clock
) -> web.AppRunner:
    """Start serving; the caller keeps the runner and calls ``cleanup()`` to stop."""
    runner = web.AppRunner(make_web_app(app, secret=secret, clock=clock), access_log=None)
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
