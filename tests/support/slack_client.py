"""Post requests to the bot's real endpoint exactly as Slack does, signed.

Slack signs ``v0:{timestamp}:{body}`` with HMAC-SHA256 under the signing
secret (slack_sdk.signature.SignatureVerifier does the same sum); slash
commands are form posts, interactive payloads a form field ``payload`` holding
JSON, events a JSON body.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from multidict import MultiDict
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock, system_clock
from tests.support.slack_api import TEAM, SlackApi


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    elapsed: float

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.text)) if self.text else {}


# One numbering for every client in the process: like Slack's, a trigger_id is never
# handed out twice, even to requests posted to two replicas.
_SERIAL = itertools.count(1)


class SlackClient:
    def __init__(
        self, url: str, secret: str, api: SlackApi, *, clock: Clock = system_clock
    ) -> None:
        self.url = url  # http://127.0.0.1:PORT/slack/events
        self.secret = secret
        self.api = api
        self.clock = clock  # Slack stamps its requests by the same time as the bot's clock
        self._n = _SERIAL
        self.session: aiohttp.ClientSession | None = None  # shared when set (benchmarks)

    def with_url(self, url: str) -> SlackClient:
        return SlackClient(url, self.secret, self.api, clock=self.clock)

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Answer:
        ts = str(self.now() if timestamp is None else timestamp)
        sig = signature or SignatureVerifier(self.secret).generate_signature(
            timestamp=ts, body=body
        )
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
            **(extra_headers or {}),
        }
        started = time.monotonic()
        if self.session is not None:
            return await self._send(self.session, body, headers, started)
        async with aiohttp.ClientSession() as session:
            return await self._send(session, body, headers, started)

    def now(self) -> int:
        """The request timestamp Slack would send now."""
        return int(self.clock().timestamp())

    def sign(self, timestamp: str, raw: bytes) -> str:
        """Slack's v0 signature over raw bytes (the SDK's helper first decodes them as UTF-8)."""
        base = b"v0:" + timestamp.encode() + b":" + raw
        return "v0=" + hmac.new(self.secret.encode(), base, hashlib.sha256).hexdigest()

    async def post_bytes(
        self,
        raw: bytes,
        content_type: str | None,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        omit: Iterable[str] = (),
    ) -> Answer:
        """Post ``raw`` as it is, signed unless ``signature`` is given; ``timestamp`` is sent
        as written (any text), ``headers`` are added as they are (repeats included), and
        the headers named in ``omit`` are not sent at all."""
        ts = str(self.now()) if timestamp is None else timestamp
        sent: list[tuple[str, str]] = [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", signature if signature is not None else self.sign(ts, raw)),
        ]
        if content_type is not None:
            sent.append(("Content-Type", content_type))
        sent += list(headers)
        sent = [(k, v) for k, v in sent if k not in set(omit)]
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            return await self._send(session, raw, MultiDict(sent), started)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        body: str | bytes,
        headers: Mapping[str, str],
        started: float,
    ) -> Answer:
        data = body.encode() if isinstance(body, str) else body
        async with session.post(
            self.url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            text = await response.text()
            return Answer(response.status, text, time.monotonic() - started)

    # ---- slash commands
    def command_body(self, text: str, *, user: str = "UADMIN01", channel: str = "CGENERAL1") -> str:
        n = next(self._n)
        return urlencode(
            {
                "token": "legacy",
                "team_id": TEAM,
                "team_domain": "test",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/tls",
                "text": text,
                "api_app_id": "A0000001",
                "response_url": self.api.response_url(f"cmd{n}"),
                "trigger_id": f"{n}.trigger",
            }
        )

    async def command(self, text: str, **kwargs: Any) -> Answer:
        return await self.post(
            self.command_body(text, **kwargs), "application/x-www-form-urlencoded"
        )

    # ---- interactivity
    async def interact(self, payload: dict[str, Any]) -> Answer:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    def _base(self, kind: str, user: str) -> dict[str, Any]:
        n = next(self._n)
        return {
            "type": kind,
            "team": {"id": TEAM, "domain": "test"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
            "api_app_id": "A0000001",
            "token": "legacy",
            "trigger_id": f"{n}.trigger",
        }

    async def click_in_view(
        self, view: dict[str, Any], action_id: str, value: str = "", *, user: str = "UADMIN01"
    ) -> Answer:
        """A button inside a modal (or the App Home)."""
        payload = self._base("block_actions", user)
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = {**view, "state": {"values": {}}}
        payload["actions"] = [_action(action_id, value)]
        return await self.interact(payload)

    async def click_in_message(
        self,
        message: dict[str, Any],
        action_id: str,
        value: str = "",
        *,
        user: str = "UADMIN01",
        channel: str = "CAPPROVE1",
        ts: str = "1.000001",
    ) -> Answer:
        """A button on a message in a channel (approvals)."""
        payload = self._base("block_actions", user)
        payload["container"] = {"type": "message", "message_ts": ts, "channel_id": channel}
        payload["channel"] = {"id": channel, "name": "approvals"}
        payload["message"] = {**message, "ts": ts}
        payload["response_url"] = self.api.response_url("msg")
        payload["actions"] = [_action(action_id, value, _block_of(message, action_id))]
        return await self.interact(payload)

    async def submit(
        self,
        view: dict[str, Any],
        values: dict[str, dict[str, str]] | None = None,
        *,
        user: str = "UADMIN01",
    ) -> Answer:
        """Submit a modal; ``values`` is ``{block_id: {action_id: text}}``."""
        state = {
            block: {
                action: {"type": "plain_text_input", "value": text}
                for action, text in fields.items()
            }
            for block, fields in (values or {}).items()
        }
        return await self.submit_state(view, state, user=user)

    async def submit_state(
        self, view: dict[str, Any], state: dict[str, Any], *, user: str = "UADMIN01"
    ) -> Answer:
        """Submit a modal with a raw ``state.values`` (checkboxes and the like)."""
        payload = self._base("view_submission", user)
        payload["view"] = {**view, "state": {"values": state}}
        payload["response_urls"] = []
        answer = await self.interact(payload)
        body = answer.json if answer.text.startswith("{") else {}
        if body.get("response_action") == "update" and view.get("id") in self.api.views:
            self.api.views[view["id"]] = {**body["view"], "id": view["id"]}
        return answer

    async def closed(self, view: dict[str, Any], *, user: str = "UADMIN01") -> Answer:
        payload = self._base("view_closed", user)
        payload["view"] = view
        payload["is_cleared"] = False
        return await self.interact(payload)

    async def event(self, event: dict[str, Any]) -> Answer:
        return await self.post(self.event_body(event), "application/json")

    def event_body(self, event: dict[str, Any]) -> str:
        n = next(self._n)
        return json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM,
                "api_app_id": "A0000001",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{n:08d}",
                "event_time": int(time.time()),
            }
        )

    async def home_opened(self, user: str = "UADMIN01") -> Answer:
        return await self.event(
            {"type": "app_home_opened", "user": user, "channel": "D0000001", "tab": "home"}
        )


def _block_of(message: dict[str, Any], action_id: str) -> str:
    """The block_id of the block holding ``action_id`` (as Slack sends it), else ``b``."""
    for block in message.get("blocks") or ():
        elements = [*(block.get("elements") or ()), block.get("accessory") or {}]
        if block.get("block_id") and any(e.get("action_id") == action_id for e in elements):
            return str(block["block_id"])
    return "b"


def _action(action_id: str, value: str, block_id: str = "b") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "text": {"type": "plain_text", "text": action_id},
        "action_ts": f"{time.time():.6f}",
    }
