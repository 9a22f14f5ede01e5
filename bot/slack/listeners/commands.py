"""``/tls`` and its subcommands: parse, ack, then do the slow part after the ack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.probe.model import TargetResult
from bot.probe.names import InvalidName, normalise_domain, parse_email
from bot.slack import errors
from bot.slack.command_text import Parsed, parse
from bot.slack.ids import Command, Sub
from bot.slack.middleware import services_of
from bot.slack.replies import tell
from bot.slack.services import Services
from bot.slack.views.help import help_message
from bot.slack.views.results import check_message


class Request:
    """One slash command as the handlers see it."""

    def __init__(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        services: Services,
        parsed: Parsed,
    ) -> None:
        self.ack = ack
        self.body = body
        self.client = client
        self.services = services
        self.parsed = parsed

    @property
    def user(self) -> str:
        return str(self.body.get("user_id", ""))

    def later(self, coro: Awaitable[None], name: str) -> None:
        async def run() -> None:
            await coro

        async def on_error(exc: BaseException) -> None:
            await errors.report(exc, self.body, self.client)

        self.services.background.spawn(run(), name=name, on_error=on_error)


Handler = Callable[[Request], Awaitable[None]]


async def on_help(req: Request) -> None:
    await req.ack(**help_message(req.parsed.problem))


async def on_check(req: Request) -> None:
    target = req.parsed.args[0]
    try:
        if "@" in target:
            address, _ = parse_email(target)
            probe: Awaitable[TargetResult] = req.services.prober.probe_email(address)
        else:
            probe = req.services.prober.probe_domain(normalise_domain(target))
    except InvalidName as exc:
        await req.ack(text=f":no_entry: {exc}")
        return
    await req.ack(text=f":hourglass_flowing_sand: Checking {target}…")

    async def answer() -> None:
        result = await probe
        await tell(req.client, req.body, **check_message(result), replace=True)

    req.later(answer(), name=f"check {target}")


HANDLERS: dict[Sub, Handler] = {
    Sub.HELP: on_help,
    Sub.CHECK: on_check,
}


async def on_tls(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    parsed = parse(str(body.get("text") or ""))
    handler = HANDLERS.get(parsed.sub, on_help)
    await handler(Request(ack, body, client, services_of(context), parsed))


def register(app: AsyncApp) -> None:
    app.command(Command.TLS.value)(on_tls)
