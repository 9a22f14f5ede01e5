"""A client for the few Mimecast API 2.0 calls the sync needs, on aiohttp.

* ``POST {base}/oauth/token`` — OAuth 2.0 client credentials (form fields
  ``client_id``, ``client_secret``, ``grant_type=client_credentials``); the bearer
  token is cached until shortly before its ``expires_in`` runs out, and fetched
  again once if a call answers 401.
* ``POST {base}/api/directory/get-group-members`` — ``{"meta": {"pagination":
  {"pageSize": N, "pageToken": T}}, "data": [{"id": GROUP}]}``, following
  ``meta.pagination.next``; members in ``data[0].groupMembers[]``.
* ``POST {base}/api/directory/add-group-member`` and ``.../remove-group-member`` —
  ``{"data": [{"id": GROUP, "domain": D}, …]}``; items that failed come back in
  ``fail[]`` (``{"key": {…}, "errors": [{"code", "message", "retryable"}]}``).

Careful with the service: a 429 is retried after the ``X-RateLimit-Reset`` header
(milliseconds until a request is allowed again), a 5xx or a dropped connection
after an exponential backoff, at most ``attempts`` times. Errors (one line each):

* :class:`MimecastError` — the call could not be made or kept failing; the base of
* :class:`MimecastAuthError` — the token was refused (client id or secret wrong);
* a per-item failure is never an exception: it is an :class:`ItemFailure` in the result.

References (docs/mimecast.md): Mimecast's endpoint reference for the three
directory calls, "API Call Restrictions" for the rate-limit headers, "Response
Codes" for HTTP codes versus function-level ``fail``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.config import MimecastSettings

PAGE_SIZE = 100  # the API's default page size; at most 500
BATCH = 100  # items per add / remove call
TOKEN_MARGIN = 60.0  # seconds before expiry a cached token is renewed


class MimecastError(Exception):
    """The Mimecast API could not be used; ``str()`` is one line."""


class MimecastAuthError(MimecastError):
    """The API application's credentials were refused."""


@dataclass(frozen=True)
class Member:
    domain: str | None  # a domain member, lower case
    email: str | None  # an address member (tlsbot never touches these)


@dataclass(frozen=True)
class ItemFailure:
    domain: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.domain}: {self.code} {self.message}".rstrip()


@dataclass
class ItemResults:
    done: list[str] = field(default_factory=list)
    failed: list[ItemFailure] = field(default_factory=list)


@dataclass
class _Token:
    value: str
    expires: float  # monotonic


Sleep = Callable[[float], Awaitable[None]]


class MimecastClient:
    """Use as ``async with client:`` (one HTTP session for the sync); the token outlives it."""

    def __init__(
        self,
        settings: MimecastSettings,
        *,
        page_size: int = PAGE_SIZE,
        attempts: int = 5,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.page_size = page_size
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._monotonic = monotonic
        self._token: _Token | None = None
        self._http: aiohttp.ClientSession | None = None
        self.retries = 0  # how many calls were retried (429, 5xx, dropped connections)
        self.lock = asyncio.Lock()  # one sync at a time per client (serve may start two)

    async def __aenter__(self) -> MimecastClient:
        self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ---- the calls
    async def members(self, group_id: str) -> list[Member]:
        """Every member of the group, following the pagination to its end."""
        members: list[Member] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            pagination: dict[str, Any] = {"pageSize": self.page_size}
            if token is not None:
                pagination["pageToken"] = token
            body = {"meta": {"pagination": pagination}, "data": [{"id": group_id}]}
            answer = await self._call("/api/directory/get-group-members", body)
            for failure in answer.get("fail") or ():
                code, message = _first_error(failure)
                raise MimecastError(f"group {group_id}: {code} {message}".rstrip())
            for page in answer.get("data") or ():
                for item in page.get("groupMembers") or ():
                    members.append(_member(item))
            token = ((answer.get("meta") or {}).get("pagination") or {}).get("next")
            if not token:
                return members
            if token in seen:
                raise MimecastError(f"group {group_id}: the pagination repeats a page")
            seen.add(str(token))

    async def add(self, group_id: str, domains: Sequence[str]) -> ItemResults:
        return await self._items("/api/directory/add-group-member", group_id, domains)

    async def remove(self, group_id: str, domains: Sequence[str]) -> ItemResults:
        return await self._items("/api/directory/remove-group-member", group_id, domains)

    async def _items(self, path: str, group_id: str, domains: Sequence[str]) -> ItemResults:
        results = ItemResults()
        for start in range(0, len(domains), BATCH):
            batch = list(domains[start : start + BATCH])
            body = {"data": [{"id": group_id, "domain": d} for d in batch]}
            answer = await self._call(path, body)
            failed: dict[str, ItemFailure] = {}
            for failure in answer.get("fail") or ():
                key = failure.get("key") or {}
                domain = str(key.get("domain") or "").lower()
                code, message = _first_error(failure)
                failed[domain] = ItemFailure(domain or "?", code, message)
            for domain in batch:
                if domain in failed:
                    results.failed.append(failed.pop(domain))
                else:
                    results.done.append(domain)
            results.failed.extend(failed.values())  # a failure naming no item of the batch
        return results

    # ---- transport
    async def token(self) -> str:
        cached = self._token
        if cached is not None and self._monotonic() < cached.expires:
            return cached.value
        form = {
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret.get_secret_value(),
            "grant_type": "client_credentials",
        }
        status, answer, _ = await self._send("/oauth/token", data=form)
        if status in (400, 401, 403):
            raise MimecastAuthError(
                f"Mimecast refused the API application's credentials (HTTP {status}): "
                "check MIMECAST_CLIENT_ID and MIMECAST_CLIENT_SECRET"
            )
        if status != 200 or not isinstance(answer.get("access_token"), str):
            raise MimecastError(f"Mimecast token request answered HTTP {status} without a token")
        lifetime = float(answer.get("expires_in") or 0)
        expires = self._monotonic() + max(0.0, lifetime - TOKEN_MARGIN)
        self._token = _Token(answer["access_token"], expires)
        return self._token.value

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        refreshed = False
        while True:
            token = await self.token()
            status, answer, _ = await self._send(path, json_body=body, token=token)
            if status == 401 and not refreshed:
                self._token, refreshed = None, True  # expired early, or revoked: once more
                continue
            if status == 401:
                raise MimecastAuthError(f"Mimecast refused the bearer token for {path}")
            if status != 200:
                raise MimecastError(f"Mimecast {path} answered HTTP {status}: {_errors(answer)}")
            return answer

    async def _send(
        self,
        path: str,
        *,
        data: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One request, retried on 429, 5xx and dropped connections."""
        if self._http is None:
            raise RuntimeError("use the client as `async with client:`")
        url = self.settings.base_url + path
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                async with self._http.post(
                    url, data=data, json=json_body, headers=headers
                ) as response:
                    text = await response.text()
                    status, got = response.status, dict(response.headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if last:
                    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise MimecastError(f"Mimecast {path}: {reason}") from exc
                await self._wait(self._backoff(attempt))
                continue
            if status == 429 or status >= 500:
                if last:
                    raise MimecastError(
                        f"Mimecast {path} answered HTTP {status} {self.attempts} times; "
                        "try again later"
                    )
                await self._wait(self._retry_after(status, got, attempt))
                continue
            return status, _json(text), got
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_wait, self.backoff * 2 ** (attempt - 1)))

    def _retry_after(self, status: int, headers: dict[str, str], attempt: int) -> float:
        """429: the X-RateLimit-Reset header (milliseconds); else exponential backoff."""
        if status == 429:
            reset = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
            try:
                return min(self.max_wait, max(0.0, float(reset or "") / 1000.0))
            except ValueError:
                pass
        return self._backoff(attempt)

    async def _wait(self, seconds: float) -> None:
        self.retries += 1
        await self._sleep(seconds)


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {"_text": text[:200]}
    return value if isinstance(value, dict) else {"_value": value}


def _member(item: dict[str, Any]) -> Member:
    email = str(item.get("emailAddress") or "").strip().lower() or None
    domain = str(item.get("domain") or "").strip().lower().rstrip(".") or None
    return Member(domain=None if email else domain, email=email)


def _first_error(failure: dict[str, Any]) -> tuple[str, str]:
    for error in failure.get("errors") or ():
        return str(error.get("code") or "error"), str(error.get("message") or "")
    return "error", ""


def _errors(answer: dict[str, Any]) -> str:
    parts = []
    for failure in answer.get("fail") or ():
        code, message = _first_error(failure)
        parts.append(f"{code} {message}".strip())
    for error in answer.get("errors") or ():
        if isinstance(error, dict):
            parts.append(f"{error.get('code') or ''} {error.get('message') or ''}".strip())
    text = "; ".join(parts) or str(answer.get("_text") or "no detail")
    return " ".join(text.split())[:300]
