"""A stand-in for the Slack Web API on loopback.

Every call is recorded with its method and body (JSON or form, decoded), and
answered ``{"ok": true, …}`` with plausible ids and timestamps. Views opened
are remembered by id so tests can submit them back; ``fail_next`` makes the
next call of a method answer 429 with ``Retry-After``, ``break_method`` makes
every call of one answer an error until ``mend``; ``group_members`` sets
what ``usergroups.users.list`` returns. ``response_url(...)`` hands out URLs on
this server that record what the bot sends to them. ``auth.test`` answers for the
installation in ``team`` / ``enterprise_id`` / ``org_wide`` (a workspace install in
``TEAM`` unless a test says otherwise), as Slack does for a bot token.

Like Slack, a Web API call without a token answers ``not_authed`` and one with a
token in ``invalid_tokens`` (revoked, or never issued) answers ``invalid_auth``.

Workflow steps: ``run_function(...)`` registers a step's execution (its id, the
step's own token, the outputs its manifest declares required) and gives the
``function_executed`` event Slack would send. ``functions.completeSuccess`` then
checks what Slack checks: a known execution, completed once, with that execution's
token, and outputs that are a JSON object holding every required output;
``functions.completeError`` wants a known execution, its token and an error text.
``chat.getPermalink`` answers a link for a channel and ``message_ts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_USER = "UBOT0001"
TEAM = "T0000001"


@dataclass
class FunctionRun:
    """One execution of a workflow step, as Slack tracks it until it completes."""

    token: str
    required: tuple[str, ...]
    outcome: str | None = None  # "success" / "error" once completed


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class SlackApi:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.group_members: dict[str, list[str]] = {}
        self.team: str | None = TEAM  # the installation auth.test reports
        self.enterprise_id: str | None = None
        self.org_wide = False
        self.uploads: dict[str, bytes] = {}  # file id -> bytes POSTed to its upload URL
        self.files: list[dict[str, Any]] = []  # completed: {"id", "title", "channel", …, "data"}
        self._upload_lengths: dict[str, int] = {}
        self.invalid_tokens: set[str] = set()
        self.function_runs: dict[str, FunctionRun] = {}
        self.sockets: list[web.WebSocketResponse] = []  # Socket Mode connections
        self._failures: dict[str, int] = {}
        self.broken: dict[str, str] = {}  # method -> Slack error answered until mended
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ---- lifecycle
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/"
        return self.base_url + "api/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test controls
    def fail_next(self, method: str, retry_after: int = 1) -> None:
        self._failures[method] = retry_after

    def break_method(self, method: str, error: str = "internal_error") -> None:
        """Answer every call of ``method`` ``{"ok": false, "error": error}`` until mended."""
        self.broken[method] = error

    def mend(self, method: str) -> None:
        self.broken.pop(method, None)

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Socket Mode: deliver a request (``slash_commands``, ``interactive``, ``events_api``)
        to the connected bot; its ack arrives as a recorded ``socket_ack`` call."""
        envelope_id = f"env-{next(self._ids)}"
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    def run_function(
        self, callback_id: str, inputs: dict[str, Any], required: tuple[str, ...]
    ) -> dict[str, Any]:
        """Start a workflow step: the ``function_executed`` event Slack sends for it."""
        n = next(self._ids)
        execution, token = f"Fx{n:010d}", f"xwfp-step-{n}"
        self.function_runs[execution] = FunctionRun(token, required)
        return {
            "type": "function_executed",
            "function": {"id": f"Fn{n:08d}", "callback_id": callback_id, "type": "app"},
            "inputs": inputs,
            "function_execution_id": execution,
            "workflow_execution_id": f"Wx{n:010d}",
            "event_ts": f"{time.time():.6f}",
            "bot_access_token": token,
        }

    def response_url(self, key: str = "cmd") -> str:
        return f"{self.base_url}respond/{key}-{next(self._ids)}"

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        method: str,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        *,
        after: int = 0,
        timeout: float = 10.0,
    ) -> Call:
        """The first call of ``method`` (from index ``after``) whose body matches."""

        def found() -> Call | None:
            for call in self.calls[after:]:
                if call.method == method and where(call.body):
                    return call
            return None

        async with asyncio.timeout(timeout), self._changed:
            while (hit := found()) is None:
                await self._changed.wait()
        return hit

    async def wait_view(
        self,
        view_id: str,
        where: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Wait until the stored view ``view_id`` matches (after updates, or an ack's update)."""

        def found() -> dict[str, Any] | None:
            view = self.views.get(view_id)
            return view if view is not None and where(view) else None

        async with asyncio.timeout(timeout):
            while (hit := found()) is None:
                async with self._changed:
                    try:
                        async with asyncio.timeout(0.2):
                            await self._changed.wait()
                    except TimeoutError:
                        pass
        return hit

    def close_view(self, view_id: str) -> None:
        """The user closed the modal: later views.update calls answer not_found."""
        self.views.pop(view_id, None)

    def texts(self, method: str) -> list[str]:
        """Every text (``text`` plus all block texts) sent with ``method``, one string per call."""
        return [all_text(c.body) for c in self.of(method)]

    # ---- server side
    async def _record(self, method: str, body: dict[str, Any]) -> None:
        async with self._changed:
            self.calls.append(Call(method, body))
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await _decode(request)
        if method in self._failures:
            retry_after = self._failures.pop(method)
            await self._record(method + "#429", body)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        if method in self.broken:
            await self._record(method + "#error", body)
            return web.json_response({"ok": False, "error": self.broken[method]})
        await self._record(method, body)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = token or str(body.get("token") or "")
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token in self.invalid_tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method.startswith("functions.complete"):
            return web.json_response(self._complete_function(method, body, token))
        return web.json_response(self._answer(method, body))

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await self._record("socket_ack", json.loads(message.data))
        return ws

    async def _respond(self, request: web.Request) -> web.Response:
        body = await _decode(request)
        await self._record("response_url", {**body, "_url": str(request.url)})
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        """files.uploadV2's step 2: the file's bytes POSTed to the URL step 1 handed out."""
        file_id = request.match_info["file_id"]
        if file_id not in self._upload_lengths:
            return web.Response(status=404, text="unknown upload URL")
        self.uploads[file_id] = await request.read()
        await self._record("upload", {"file_id": file_id, "size": len(self.uploads[file_id])})
        return web.Response(text="OK - " + str(len(self.uploads[file_id])))

    def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """files.completeUploadExternal: every file uploaded whole, shared to a channel."""
        files = body.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        done = []
        for f in files or ():
            file_id = str(f.get("id"))
            data = self.uploads.get(file_id)
            if data is None or len(data) != self._upload_lengths.get(file_id):
                return {"ok": False, "error": "file_upload_incomplete"}
            entry = {
                "id": file_id,
                "title": f.get("title"),
                "channel": body.get("channel_id"),
                "initial_comment": body.get("initial_comment"),
                "data": data,
            }
            self.files.append(entry)
            done.append({"id": file_id, "title": f.get("title")})
        return {"ok": True, "files": done}

    def _complete_function(self, method: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        run = self.function_runs.get(str(body.get("function_execution_id") or ""))
        if run is None:
            return {"ok": False, "error": "function_execution_not_found"}
        if token != run.token:
            return {"ok": False, "error": "invalid_auth"}  # only the step's own token
        if run.outcome is not None:
            return {"ok": False, "error": "function_execution_already_completed"}
        if method == "functions.completeError":
            if not str(body.get("error") or "").strip():
                return {"ok": False, "error": "invalid_arguments"}
            run.outcome = "error"
            return {"ok": True}
        if method != "functions.completeSuccess":
            return {"ok": False, "error": "unknown_method"}
        try:
            outputs = json.loads(str(body.get("outputs")))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(outputs, dict) or any(k not in outputs for k in run.required):
            return {"ok": False, "error": "invalid_outputs"}
        run.outcome = "success"
        return {"ok": True}

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ids)
        if method == "files.getUploadURLExternal":
            if not body.get("filename") or not str(body.get("length") or "").isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = f"F{n:08d}"
            self._upload_lengths[file_id] = int(body["length"])
            return {
                "ok": True,
                "file_id": file_id,
                "upload_url": f"{self.base_url}upload/{file_id}",
            }
        if method == "files.completeUploadExternal":
            return self._complete(body)
        ts = f"{int(time.time())}.{n:06d}"
        if method == "apps.connections.open":
            return {"ok": True, "url": self.base_url.replace("http://", "ws://") + "socket"}
        if method == "auth.test":
            answer: dict[str, Any] = {
                "ok": True,
                "user_id": BOT_USER,
                "bot_id": "B0000001",
                "team_id": self.team,
                "url": "https://tlsbot-test.slack.com/",
                "team": "test",
                "user": "tlsbot",
                "is_enterprise_install": self.org_wide,
            }
            if self.enterprise_id is not None:
                answer["enterprise_id"] = self.enterprise_id
            return answer
        if method in ("views.open", "views.push", "views.publish"):
            view = _view_body(body)
            view_id = f"V{n:08d}"
            if method == "views.publish":
                view_id = f"VHOME{body.get('user_id', '')}"
            view = {**view, "id": view_id, "hash": f"h{n}"}
            self.views[view_id] = view
            return {"ok": True, "view": view}
        if method == "views.update":
            view_id = str(body.get("view_id") or "")
            if view_id not in self.views:
                return {"ok": False, "error": "not_found"}
            view = {**_view_body(body), "id": view_id, "hash": f"h{n}"}
            self.views[view_id] = view
            return {"ok": True, "view": view}
        if method == "chat.postMessage":
            channel = str(body.get("channel"))
            if channel.startswith("U"):
                channel = "D" + channel[1:]
            return {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"text": body.get("text"), "ts": ts},
            }
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        if method == "chat.getPermalink":
            channel, message_ts = body.get("channel"), str(body.get("message_ts") or "")
            if not channel or not message_ts:
                return {"ok": False, "error": "invalid_arguments"}
            link = (
                f"https://tlsbot-test.slack.com/archives/{channel}/p{message_ts.replace('.', '')}"
            )
            return {"ok": True, "channel": channel, "permalink": link}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{n:08d}"}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.group_members.get(str(body.get("usergroup")), [])}
        if method == "users.info":
            user = str(body.get("user"))
            return {"ok": True, "user": {"id": user, "name": user.lower(), "real_name": user}}
        return {"ok": True}


def _view_body(body: dict[str, Any]) -> dict[str, Any]:
    view = body.get("view")
    if isinstance(view, str):
        view = json.loads(view)
    return dict(view or {})


async def _decode(request: web.Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query)
    raw = await request.text()
    query = dict(request.query)  # the Web API client sends some arguments as the query
    if request.content_type == "application/json":
        return {**query, **dict(json.loads(raw or "{}"))}
    return {**query, **dict(parse_qsl(raw, keep_blank_values=True))}


def all_text(value: Any) -> str:
    """Every ``text`` string inside a body, in order, joined by newlines."""
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                if k == "text" and isinstance(item, str):
                    out.append(item)
                else:
                    walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)
        elif isinstance(v, str) and v.startswith(("[", "{")):
            with contextlib.suppress(ValueError):
                walk(json.loads(v))

    walk(value)
    return "\n".join(out)
