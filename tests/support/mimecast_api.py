"""A stand-in for the Mimecast API 2.0 on loopback: the calls tlsbot's sync makes.

It checks what the real API checks, as its endpoint reference describes:

* ``POST /oauth/token`` is a form post with ``client_id``, ``client_secret`` and
  ``grant_type=client_credentials``; a wrong secret is a 401. Tokens expire after
  ``token_ttl`` seconds (``expire_tokens()`` ends them at once).
* every ``/api/...`` call needs ``Authorization: Bearer <live token>`` (else 401)
  and a JSON body ``{"data": [...]}`` (else 400);
* ``get-group-members`` pages ``groupMembers`` by ``meta.pagination.pageSize`` (at
  most 500) and hands out ``next`` tokens of its own, which are the only tokens it
  accepts back;
* ``add-group-member`` / ``remove-group-member`` take ``{"id", "domain"}`` items; an
  unknown group, or a domain in ``fail_domains``, comes back in ``fail`` with
  ``key`` and ``errors`` while the other items succeed.

``fail_next(path, status, times, reset_ms)`` answers the next calls of a path with
429 (and ``X-RateLimit-Reset``) or a 5xx. ``groups`` is the console: tests edit it
directly to make drift. Every call is recorded with its path, body and time.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLIENT_ID = "tlsbot-test-app"
CLIENT_SECRET = "s3cret-of-the-test-app"
MAX_PAGE = 500


@dataclass
class Call:
    path: str
    body: Any
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    times: int
    reset_ms: int | None


class MimecastApi:
    def __init__(self, *, token_ttl: int = 1800) -> None:
        self.groups: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[Call] = []
        self.fail_domains: set[str] = set()
        self.token_ttl = token_ttl
        self._tokens: dict[str, float] = {}  # token -> monotonic expiry
        self._pages: dict[str, tuple[str, int]] = {}  # next token -> (group, offset)
        self._failures: dict[str, _Failure] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/api/directory/{call}", self._directory)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test controls
    def group(self, group_id: str, *domains: str) -> None:
        """Create (or reset) a group holding these domain members."""
        self.groups[group_id] = [self._domain_member(d) for d in domains]

    def add_in_console(self, group_id: str, domain: str) -> None:
        self.groups[group_id].append(self._domain_member(domain))

    def remove_in_console(self, group_id: str, domain: str) -> None:
        self.groups[group_id] = [m for m in self.groups[group_id] if m.get("domain") != domain]

    def domains(self, group_id: str) -> list[str]:
        return sorted(
            m["domain"] for m in self.groups[group_id] if m.get("domain") and not m["emailAddress"]
        )

    def fail_next(
        self, path: str, status: int = 429, *, times: int = 1, reset_ms: int | None = None
    ) -> None:
        self._failures[path] = _Failure(status, times, reset_ms)

    def expire_tokens(self) -> None:
        self._tokens.clear()

    def of(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    # ---- server side
    @staticmethod
    def _domain_member(domain: str) -> dict[str, Any]:
        return {
            "emailAddress": "",
            "domain": domain,
            "internal": False,
            "type": "domain",
            "name": domain,
        }

    def _injected(self, path: str) -> web.Response | None:
        failure = self._failures.get(path)
        if failure is None:
            return None
        failure.times -= 1
        if failure.times <= 0:
            del self._failures[path]
        headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0"}
        if failure.reset_ms is not None:
            headers["X-RateLimit-Reset"] = str(failure.reset_ms)
        body = {"meta": {"status": failure.status}, "data": [], "fail": []}
        return web.json_response(body, status=failure.status, headers=headers)

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        path = "/oauth/token"
        injected = self._injected(path)
        if injected is not None:
            self.calls.append(Call(path, dict.fromkeys(form, "…"), injected.status))
            return injected
        ok = (
            request.content_type == "application/x-www-form-urlencoded"
            and form.get("grant_type") == "client_credentials"
            and form.get("client_id") == CLIENT_ID
            and form.get("client_secret") == CLIENT_SECRET
        )
        status = 200 if ok else 401
        self.calls.append(Call(path, dict.fromkeys(form, "…"), status))
        if not ok:
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"tok-{next(self._ids)}-{secrets.token_hex(4)}"
        self._tokens[token] = time.monotonic() + self.token_ttl
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )

    async def _directory(self, request: web.Request) -> web.Response:
        path = request.path
        raw = await request.text()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        injected = self._injected(path)
        if injected is not None:
            self.calls.append(Call(path, body, injected.status))
            return injected
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or self._tokens.get(token, 0) < time.monotonic():
            self.calls.append(Call(path, body, 401))
            return web.json_response({"fail": [{"errors": [{"code": "unauthorized"}]}]}, status=401)
        if (
            request.content_type != "application/json"
            or not isinstance(body, dict)
            or not isinstance(body.get("data"), list)
            or not body["data"]
        ):
            self.calls.append(Call(path, body, 400))
            return web.json_response({"fail": [{"errors": [{"code": "bad_request"}]}]}, status=400)
        call = request.match_info["call"]
        if call == "get-group-members":
            status, answer = self._members(body)
        elif call in ("add-group-member", "remove-group-member"):
            status, answer = self._change(body, adding=call == "add-group-member")
        else:
            status, answer = 404, {"fail": []}
        self.calls.append(Call(path, body, status))
        return web.json_response(answer, status=status)

    def _members(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        (item,) = body["data"]
        group_id = item.get("id")
        pagination = (body.get("meta") or {}).get("pagination") or {}
        size = pagination.get("pageSize", 25)
        if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
            return 400, {"fail": [{"errors": [{"code": "err_page_size"}]}]}
        offset = 0
        if "pageToken" in pagination:
            issued = self._pages.get(pagination["pageToken"])
            if issued is None or issued[0] != group_id:
                return 400, {"fail": [{"errors": [{"code": "err_page_token_invalid"}]}]}
            offset = issued[1]
        if group_id not in self.groups:
            fail = [{"key": item, "errors": [{"code": "err_group_not_found", "retryable": False}]}]
            return 200, {"meta": {"status": 200}, "data": [], "fail": fail}
        members = self.groups[group_id]
        page = members[offset : offset + size]
        meta: dict[str, Any] = {"status": 200, "pagination": {"pageSize": size}}
        if offset + size < len(members):
            token = f"page-{next(self._ids)}-{secrets.token_hex(4)}"
            self._pages[token] = (group_id, offset + size)
            meta["pagination"]["next"] = token
        return 200, {"meta": meta, "data": [{"groupMembers": page}], "fail": []}

    def _change(self, body: dict[str, Any], *, adding: bool) -> tuple[int, dict[str, Any]]:
        data, fail = [], []
        for item in body["data"]:
            group_id, domain = item.get("id"), item.get("domain")
            if set(item) != {"id", "domain"} or not isinstance(domain, str):
                fail.append({"key": item, "errors": [{"code": "err_validation_blank"}]})
            elif group_id not in self.groups:
                fail.append({"key": item, "errors": [{"code": "err_group_not_found"}]})
            elif domain in self.fail_domains:
                error = {"code": "err_domain_invalid", "message": "Domain is not valid"}
                fail.append({"key": item, "errors": [error]})
            elif adding:
                if domain not in self.domains(group_id):
                    self.groups[group_id].append(self._domain_member(domain))
                data.append({"id": f"dom-{domain}", "folderId": group_id, "domain": domain})
            else:
                self.remove_in_console(group_id, domain)
                data.append({"id": f"dom-{domain}", "folderId": group_id, "emailAddress": ""})
        return 200, {"meta": {"status": 200}, "data": data, "fail": fail}
