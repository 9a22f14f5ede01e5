"""HTTP mode: an aiohttp application with ``POST /slack/events``, ``GET /healthz`` and
``POST /tlsrpt`` (TLS-RPT reports, :mod:`bot.slack.tlsrpt_route`)."""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.slack import tlsrpt_route
from bot.slack.services import Services

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def make_web_app(app: AsyncApp, services: Services | None = None) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application(client_max_size=1024 * 1024)
    web_app.router.add_post(EVENTS_PATH, events)
    web_app.router.add_get(HEALTH_PATH, health)
    if services is not None:
        tlsrpt_route.register(web_app, services)  # POST /tlsrpt: TLS-RPT reports (RFC 8460)
    return web_app


async def start_http(
    app: AsyncApp, host: str, port: int, services: Services | None = None
) -> web.AppRunner:
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
