"""An HTTP server on loopback that records every request it gets: the stand-in for an
internal URL an attacker would name as a ``response_url``."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Recorder:
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)  # method, path, body
    _runner: web.AppRunner | None = None
    base_url: str = ""

    async def start(self) -> Recorder:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str = "internal/admin") -> str:
        return self.base_url + path

    async def _record(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path, await request.read()))
        return web.Response(text="ok")
