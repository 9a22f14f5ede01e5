"""``tlsbot doctor [--smtp HOST[:PORT]] [--slack]``: is this host fit to run tlsbot?

One line per check, ``✓`` (passed), ``✗`` (failed: what is wrong and what to do) or
``–`` (not checked, and how to check it); exit 0 when no check failed, 1 otherwise.

========== =====================================================================
check      passes when
========== =====================================================================
settings   every variable of SPEC.md parses (otherwise nothing else is checked)
DNS        the resolver (``TLSBOT_DNS_SERVERS`` or the system's) answers a query
port 25    ``--smtp HOST[:PORT]`` (port ``TLSBOT_SMTP_PORT`` by default) resolves,
           passes the address guard, accepts a connection and greets with 2xx
trust      the system store plus ``TLSBOT_CA_FILE`` holds at least one root, and
store      ``TLSBOT_CA_FILE``, when set, holds at least one certificate
database   ``DATABASE_URL`` opens and its schema is at this version's head
           (``bot.policy.db.check_schema``); a missing SQLite file is not created
Slack      the settings ``tlsbot serve`` needs are present; with ``--slack``,
           ``auth.test`` at ``SLACK_API_URL`` accepts ``SLACK_BOT_TOKEN``
========== =====================================================================

Checks are :data:`CHECKS`, one function each from a :class:`Context` to a
:class:`Line`; adding one is one entry there. A check that crashes is reported as
a failed line, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import ConfigError, Settings

PASS, FAIL, SKIP = "✓", "✗", "–"


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    smtp: str | None  # HOST[:PORT] to test port 25 against
    slack: bool  # call auth.test


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    ok: bool | None  # None: not checked
    text: str

    def __str__(self) -> str:
        mark = SKIP if self.ok is None else PASS if self.ok else FAIL
        return f"{mark} {self.name}: {self.text}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check DNS, port 25, trust store, database and Slack",
        description="Check that this host can run tlsbot: DNS, outbound port 25, the trust "
        "store, the database and the Slack settings, one line each. Exit 0 when no check "
        "failed, 1 otherwise.",
    )
    parser.add_argument(
        "--smtp",
        metavar="HOST[:PORT]",
        help="a mail server to reach on port 25 (TLSBOT_SMTP_PORT), e.g. a partner's MX host",
    )
    parser.add_argument(
        "--slack", action="store_true", help="also call Slack's auth.test with SLACK_BOT_TOKEN"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(Line("settings", False, f"{exc}; fix it, then run tlsbot doctor again"))
        return 1
    context = Context(settings, args.smtp, args.slack)
    failed = False
    for check in CHECKS:
        line = _safely(check, context)
        print(line, flush=True)
        failed = failed or line.ok is False
    return 1 if failed else 0


def _safely(check: Callable[[Context], Line], context: Context) -> Line:
    try:
        return check(context)
    except Exception as exc:  # a doctor reports, it does not crash
        name = check.__name__.removeprefix("check_").replace("_", " ")
        return Line(name, False, f"the check itself failed: {type(exc).__name__}: {exc}")


# -- DNS ----------------------------------------------------------------------


def check_dns(context: Context) -> Line:
    from bot.probe.dns import Resolver

    probe = context.settings.probe
    servers = ", ".join(_where(ip, port) for ip, port in probe.dns_servers)
    who = f"the resolver {servers}" if servers else "the system resolver"
    started = time.monotonic()
    found = asyncio.run(Resolver(probe).txt("."))
    ms = int((time.monotonic() - started) * 1000)
    if found.error is not None:
        fix = "check TLSBOT_DNS_SERVERS" if servers else "check /etc/resolv.conf"
        return Line("DNS", False, f"{who}: {found.error.message}; {fix}")
    return Line("DNS", True, f"{who} answered in {ms} ms")


# -- port 25 ------------------------------------------------------------------


def check_port_25(context: Context) -> Line:
    from bot.probe.names import InvalidName, parse_route

    probe = context.settings.probe
    name = f"port {probe.smtp_port}"
    if context.smtp is None:
        return Line(name, None, "not checked: name a mail server with --smtp HOST[:PORT]")
    try:
        host, port = parse_route(context.smtp, probe.smtp_port)
    except InvalidName as exc:
        return Line(name, False, f"--smtp {context.smtp!r}: {exc}")
    return asyncio.run(_reach(host, port, context.settings))


async def _reach(host: str, port: int, settings: Settings) -> Line:
    from bot.probe.dns import Resolver
    from bot.probe.guard import vet_address

    probe = settings.probe
    name = f"port {port}"
    found = await Resolver(probe).addresses(host)
    if found.error is not None:
        return Line(name, False, f"{host}: {found.error.message}")
    allowed = (*probe.allow_networks, *probe.route_allow_networks)
    failures: list[str] = []
    tried = refused = 0
    for address in found.addresses[:MAX_ADDRESSES]:
        refusal = vet_address(address, allowed)
        if refusal is not None:
            failures.append(refusal.message)
            continue
        tried += 1
        greeting, failure, was_refused = await _greeting(host, address, port, probe.timeout)
        if greeting is not None:
            return Line(name, True, f"{_named(host, address, port)} greeted: {greeting}")
        failures.append(failure)
        refused += was_refused
    text = "; ".join(failures)
    if tried and refused == tried:
        text += (
            f" — is the server up? (a firewall that rejects outbound port {port} looks the same)"
        )
    elif tried:
        text += (
            f" — outbound port {port} seems blocked here (most clouds block port 25): ask your "
            "provider to open it, or run tlsbot on a host that can send mail"
        )
    return Line(name, False, text)


MAX_ADDRESSES = 4  # of the server's addresses, tried one after another


async def _greeting(
    host: str, address: str, port: int, limit: float
) -> tuple[str | None, str, bool]:
    """The server's greeting, or why there is none (in the probe's words) and if refused."""
    from bot.probe.errors import ConnectRefused, ProbeError, translate
    from bot.probe.smtp import READ_SIZE, Reply, ReplyParser, Step, quit_

    where = _named(host, address, port)
    writer = None
    stage = Step.CONNECT
    try:
        async with asyncio.timeout(limit):
            with translate(Step.CONNECT, where):
                reader, writer = await asyncio.open_connection(address, port)
            stage = Step.GREETING
            parser = ReplyParser()
            replies: list[Reply] = []
            while not replies:
                with translate(Step.GREETING, where):
                    data = await reader.read(READ_SIZE)
                if not data:
                    return None, f"{where} closed the connection without a greeting", False
                with translate(Step.GREETING, where):
                    replies = parser.feed(data)
            reply = replies[0]
            writer.write(quit_())
            if reply.code // 100 != 2:
                return None, f"{where} greeted with {reply}", False
            return str(reply), "", False
    except ProbeError as exc:
        return None, str(exc), isinstance(exc, ConnectRefused)
    except TimeoutError:
        return None, f"{where} did not answer within {limit:g} s ({stage.value})", False
    finally:
        if writer is not None:
            writer.close()


def _named(host: str, address: str, port: int) -> str:
    at = _where(address, port)
    return at if host == address else f"{host} ({at})"


def _where(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# -- trust store --------------------------------------------------------------


def check_trust_store(context: Context) -> Line:
    from bot.probe.certs import TrustStore

    ca_file = context.settings.probe.ca_file
    system = len(TrustStore.load(None).certificates)
    extra = len(TrustStore.load(ca_file, system=False).certificates) if ca_file else 0
    if ca_file is not None and extra == 0:
        return Line(
            "trust store",
            False,
            f"TLSBOT_CA_FILE={str(ca_file)!r} holds no PEM certificate; point it at your "
            "extra root certificates (PEM)",
        )
    if system + extra == 0:
        return Line(
            "trust store",
            False,
            "no trusted root certificates: install the system's CA certificates "
            "(ca-certificates) or set TLSBOT_CA_FILE",
        )
    text = f"{system} system root certificates"
    if ca_file is not None:
        text += f" + {extra} from TLSBOT_CA_FILE ({ca_file})"
    return Line("trust store", True, text)


# -- database -----------------------------------------------------------------


def check_database(context: Context) -> Line:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from bot.policy.db import check_schema, current_revision, describe_url, make_engine
    from bot.policy.errors import PolicyError

    url = context.settings.database_url
    try:
        parsed = make_url(url)
    except ArgumentError:
        return Line("database", False, f"DATABASE_URL {url!r} is not a database URL")
    database = parsed.database or ""
    sqlite_file = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if sqlite_file and not Path(database).exists():
        return Line(
            "database",
            False,
            f"the SQLite file {database} does not exist; run `tlsbot db upgrade` to create it",
        )
    engine = None
    try:
        engine = make_engine(url)
        where = describe_url(engine)
        check_schema(engine)
        return Line("database", True, f"{where}, schema at head ({current_revision(engine)})")
    except PolicyError as exc:
        return Line("database", False, str(exc))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Line("database", False, f"cannot use {url!r}: {reason}; check DATABASE_URL")
    finally:
        if engine is not None:
            engine.dispose()


# -- Slack --------------------------------------------------------------------


def check_slack(context: Context) -> Line:
    from bot.commands.serve import check_settings

    settings = context.settings
    try:
        check_settings(settings)
    except ConfigError as exc:
        return Line("Slack", False, str(exc))
    mode = "Socket Mode" if settings.slack_app_token else f"HTTP mode on PORT {settings.port}"
    if not context.slack:
        return Line("Slack", True, f"settings present ({mode}); --slack also calls auth.test")
    return _auth_test(settings, mode)


def _auth_test(settings: Settings, mode: str) -> Line:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    assert settings.slack_bot_token is not None  # check_settings saw to it
    base = settings.slack_api_url or WebClient.BASE_URL
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base, timeout=10)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", exc.response.status_code)
        return Line("Slack", False, f"auth.test at {base} answered {error}; check SLACK_BOT_TOKEN")
    except (SlackClientError, OSError) as exc:
        return Line("Slack", False, f"cannot reach {base}: {exc}; check SLACK_API_URL")
    who = f"{answer.get('user')} ({answer.get('user_id')}) in team {answer.get('team')}"
    return Line("Slack", True, f"auth.test: signed in as {who} ({mode})")


CHECKS: tuple[Callable[[Context], Line], ...] = (
    check_dns,
    check_port_25,
    check_trust_store,
    check_database,
    check_slack,
)
