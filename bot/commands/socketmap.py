"""``tlsbot socketmap``: serve the tables live to Postfix over the socketmap protocol.

The protocol has no authentication, so the server listens on loopback unless
``--allow-non-loopback`` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys

from bot.config import Settings
from bot.export.publish import socketmap_main_cf_lines
from bot.export.snapshot import SnapshotCache
from bot.export.socketmap import DEFAULT_LISTEN, Limits, SocketmapServer
from bot.export.store import DatabaseSource
from bot.policy.db import check_schema, make_engine
from bot.policy.errors import PolicyError

log = logging.getLogger("tlsbot.socketmap")
SWITCH_INTERVAL = 0.001


class ListenError(ValueError):
    pass


def parse_listen(text: str, *, allow_non_loopback: bool) -> tuple[str, int]:
    """``IP:PORT`` or ``[IPv6]:PORT``; a non-loopback IP only when allowed."""
    raw = text.strip()
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = raw.rpartition(":")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ListenError(f"--listen {raw!r} is not IP:PORT (like {DEFAULT_LISTEN})") from None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ListenError(f"--listen {raw!r} has no valid port")
    if not ip.is_loopback and not allow_non_loopback:
        raise ListenError(
            f"--listen {raw!r} is not a loopback address; the socketmap protocol has no "
            "authentication, so pass --allow-non-loopback only behind a firewall"
        )
    return str(ip), int(port_text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("socketmap", help="serve the tables live to Postfix")
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT")
    parser.add_argument("--allow-non-loopback", action="store_true")
    parser.add_argument(
        "--refresh-ms",
        type=int,
        default=250,
        help="how often to check the store for a change (default 250)",
    )
    parser.add_argument(
        "--max-stale",
        type=float,
        default=60.0,
        help="seconds without reaching the store before lookups answer TEMP (default 60)",
    )
    parser.add_argument("--idle-timeout", type=float, default=60.0, help="seconds (default 60)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen, allow_non_loopback=args.allow_non_loopback)
    except ListenError as exc:
        print(f"tlsbot: {exc}", file=sys.stderr)
        return 2
    if not 10 <= args.refresh_ms <= 60_000 or args.max_stale <= 0 or args.idle_timeout <= 0:
        print("tlsbot: --refresh-ms must be 10..60000, timeouts positive", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    try:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        check_schema(engine)
    except PolicyError as exc:
        print(f"tlsbot: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the store is unreachable: say so in one line
        print(f"tlsbot: policy store unavailable: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cache = SnapshotCache(
        DatabaseSource(engine), refresh_interval=args.refresh_ms / 1000, max_stale=args.max_stale
    )
    limits = Limits(idle_timeout=args.idle_timeout)
    # The store is polled from a worker thread; a short GIL switch interval keeps a
    # reload (~0.2 s of Python for 10,000 policies) from stalling lookups for 5 ms at a time.
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        return asyncio.run(_serve(cache, limits, host, port))
    except OSError as exc:
        print(f"tlsbot: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


async def _serve(cache: SnapshotCache, limits: Limits, host: str, port: int) -> int:
    server = SocketmapServer(cache, limits)
    await server.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("listening on %s:%d (maps tls_policy, tls_inbound)", host, server.port)
    tables = cache.current()
    listen = f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
    dnssec = tables is not None and tables.needs_dnssec
    log.info("main.cf:\n%s", socketmap_main_cf_lines(listen, dnssec=dnssec).rstrip())
    if dnssec:
        log.warning(
            "some partners are published as dane-only: Postfix needs "
            "smtp_dns_support_level = dnssec and a local validating resolver"
        )
    try:
        await stop.wait()
    finally:
        await server.close()
    log.info("stopped after %d lookups", server.lookups)
    return 0
