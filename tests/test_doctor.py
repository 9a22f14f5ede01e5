"""``tlsbot doctor`` against real parts: loopback DNS and SMTP, a database, the Slack stand-in.

Each check is shown passing in one run (exit 0), then failing for each cause it
names, with the line it prints (exit 1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands import doctor
from tests.support.blackhole import BlackHole
from tests.support.certs import CertCase, Pki
from tests.support.db import TestDatabase
from tests.support.dns_server import Behaviour, DnsServer
from tests.support.slack_api import SlackApi
from tests.support.smtp_server import SmtpFleet, SmtpServer, free_port

pytestmark = pytest.mark.timeout(60)

GOOD, HOLE, CLOSED = "127.0.10.1", "127.0.10.2", "127.0.10.3"
SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-doctor-token",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "TLSBOT_APPROVAL_CHANNEL": "CAPPROVE1",
    "TLSBOT_APPROVERS": "UAPPROVE1",
}


@dataclass
class World:
    dns: DnsServer
    port: int
    pki: Pki

    def env(self, tmp_path: Path) -> dict[str, str]:
        ip, dns_port = self.dns.address
        return {
            "TLSBOT_DNS_SERVERS": f"{ip}:{dns_port}",
            "TLSBOT_SMTP_PORT": str(self.port),
            "TLSBOT_CA_FILE": str(self.pki.ca_file),
            "TLSBOT_PROBE_ALLOW_NETWORKS": "127.0.0.0/8",
            "TLSBOT_PROBE_TIMEOUT": "0.5",
            "TLSBOT_EHLO_NAME": "doctor.test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'tlsbot.db'}",
            **SLACK,
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    pki = Pki.mint(Path(tmp_path_factory.mktemp("doctor-pki")))
    port = free_port()
    records = {
        "mx.good.test": {"A": GOOD},
        "mx.hole.test": {"A": HOLE},
        "mx.closed.test": {"A": CLOSED},
    }
    server = SmtpServer(GOOD, port, cert=pki.serve(CertCase.TRUSTED, "mx.good.test"))
    with ExitStack() as stack:
        dns = stack.enter_context(DnsServer(records))
        stack.enter_context(SmtpFleet([server]))
        stack.enter_context(BlackHole(HOLE, port))
        yield World(dns, port, pki)


@pytest.fixture
def env(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every setting doctor reads, good; a test changes what it breaks."""
    values = world.env(tmp_path)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert main(["db", "upgrade"]) == 0
    return values


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, str]]:
    """Exit code, and each printed line keyed by its check's name."""
    capsys.readouterr()
    code = main(["doctor", *args])
    out = capsys.readouterr().out
    lines = {}
    for line in out.splitlines():
        _mark, _, rest = line.partition(" ")
        name, _, _ = rest.partition(": ")
        lines[name] = line
    return code, lines


def test_every_check_passes_on_a_host_fit_to_run_tlsbot(
    env: dict[str, str], world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "--smtp", "mx.good.test")
    assert code == 0
    port = world.port
    assert list(lines) == ["DNS", f"port {port}", "trust store", "database", "Slack"]
    assert all(line.startswith("✓ ") for line in lines.values()), lines
    assert lines["DNS"].startswith(f"✓ DNS: the resolver {env['TLSBOT_DNS_SERVERS']} answered in ")
    assert lines[f"port {port}"].startswith(
        f"✓ port {port}: mx.good.test ({GOOD}:{port}) greeted: 220 "
    )
    assert lines["trust store"].endswith(f" + 1 from TLSBOT_CA_FILE ({world.pki.ca_file})")
    assert lines["database"].startswith(f"✓ database: {env['DATABASE_URL']}, schema at head (")
    assert lines["Slack"] == (
        "✓ Slack: settings present (HTTP mode on PORT 3000); --slack also calls auth.test"
    )


def test_without_smtp_port_25_is_not_checked_and_fails_nothing(
    env: dict[str, str], world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys)
    assert code == 0
    assert lines[f"port {world.port}"] == (
        f"– port {world.port}: not checked: name a mail server with --smtp HOST[:PORT]"
    )


@pytest.mark.parametrize(
    ("target", "allow", "expected"),
    [
        pytest.param(
            "mx.hole.test",
            "127.0.0.0/8",
            f"mx.hole.test ({HOLE}:PORT) did not answer within 0.5 s (connecting) — outbound "
            "port PORT seems blocked here (most clouds block port 25)",
            id="black-holed",
        ),
        pytest.param(
            "mx.closed.test",
            "127.0.0.0/8",
            f"mx.closed.test ({CLOSED}:PORT) refused the connection — is the server up? (a "
            "firewall that rejects outbound port PORT looks the same)",
            id="refused",
        ),
        pytest.param(
            "mx.good.test",
            "",
            f"{GOOD} is a loopback address; the probe reaches only public addresses unless "
            "TLSBOT_PROBE_ALLOW_NETWORKS lists them",
            id="guard",
        ),
        pytest.param("mx.gone.test", "127.0.0.0/8", "does not exist (NXDOMAIN)", id="nxdomain"),
        pytest.param("bad name!", "127.0.0.0/8", "--smtp 'bad name!'", id="bad-input"),
    ],
)
def test_port_25_failures_say_what_happened(
    env: dict[str, str],
    world: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    allow: str,
    expected: str,
) -> None:
    monkeypatch.setenv("TLSBOT_PROBE_ALLOW_NETWORKS", allow)
    code, lines = run(capsys, "--smtp", target)
    assert code == 1
    line = lines[f"port {world.port}"]
    assert line.startswith(f"✗ port {world.port}: ")
    assert expected.replace("PORT", str(world.port)) in line
    assert sum(line.startswith("✗") for line in lines.values()) == 1  # the others still pass


def test_a_resolver_that_fails_is_named(
    env: dict[str, str], world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.dns.behave(".", Behaviour.SERVFAIL)
    try:
        code, lines = run(capsys)
    finally:
        world.dns.behave(".", None)
    assert code == 1
    assert lines["DNS"] == (
        f"✗ DNS: the resolver {env['TLSBOT_DNS_SERVERS']}: the DNS server failed on . TXT "
        "(SERVFAIL); check TLSBOT_DNS_SERVERS"
    )


def test_an_extra_ca_file_without_certificates_fails(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    garbage = tmp_path / "roots.pem"
    garbage.write_text("not a certificate\n")
    monkeypatch.setenv("TLSBOT_CA_FILE", str(garbage))
    code, lines = run(capsys)
    assert code == 1
    # the settings themselves refuse it now, before any check runs
    (line,) = lines.values()
    assert line.startswith("✗ settings: TLSBOT_CA_FILE")
    assert "PEM certificate" in line


def test_a_missing_sqlite_file_is_reported_not_created(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "nowhere.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    code, lines = run(capsys)
    assert code == 1
    assert lines["database"] == (
        f"✗ database: the SQLite file {missing} does not exist; run `tlsbot db upgrade` to "
        "create it"
    )
    assert not missing.exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "EMPTY", "the database has no tlsbot schema yet: run `tlsbot db upgrade`", id="empty"
        ),
        pytest.param("mysql://x/y", "tlsbot supports sqlite and postgresql", id="mysql"),
        pytest.param(
            "postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot open the database", id="down"
        ),
    ],
)
def test_a_database_that_cannot_be_used_fails(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    expected: str,
) -> None:
    if url == "EMPTY":
        empty = tmp_path / "empty.db"
        empty.touch()
        url = f"sqlite:///{empty}"
    monkeypatch.setenv("DATABASE_URL", url)
    code, lines = run(capsys)
    assert code == 1
    assert lines["database"].startswith("✗ database: ")
    assert expected in lines["database"]


@pytest.mark.db
def test_the_test_database_is_at_head(
    env: dict[str, str],
    database: TestDatabase,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", database.url_with_schema)
    code, lines = run(capsys)
    assert code == 0
    assert ", schema at head (" in lines["database"]
    assert (database.engine.dialect.name == "postgresql") == ("postgresql" in lines["database"])


def test_missing_slack_settings_fail_with_the_variable_named(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TLSBOT_APPROVERS")
    code, lines = run(capsys)
    assert code == 1
    assert lines["Slack"].startswith("✗ Slack: TLSBOT_APPROVERS is not set")


def test_a_bad_setting_is_one_line(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSBOT_SMTP_PORT", "twenty-five")
    code, lines = run(capsys)
    assert code == 1
    assert list(lines.values()) == [
        "✗ settings: TLSBOT_SMTP_PORT='twenty-five' is not a whole number (digits 0-9 only); "
        "fix it, then run tlsbot doctor again"
    ]


def test_a_check_that_crashes_is_a_failed_line(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def check_gateways(context: doctor.Context) -> doctor.Line:
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "CHECKS", (*doctor.CHECKS, check_gateways))
    code, lines = run(capsys)
    assert code == 1
    assert lines["gateways"] == "✗ gateways: the check itself failed: RuntimeError: boom"


# -- --slack: auth.test at the stand-in ------------------------------------


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApi]:
    api = SlackApi()
    await api.start()
    yield api
    await api.stop()


async def test_slack_auth_test_accepts_the_token(
    env: dict[str, str],
    slack_api: SlackApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_API_URL", slack_api.base_url + "api/")
    code = await asyncio.to_thread(main, ["doctor", "--slack"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "✓ Slack: auth.test: signed in as tlsbot (UBOT0001) in team test (HTTP mode" in out
    (call,) = slack_api.of("auth.test")
    assert call.method == "auth.test"


async def test_slack_auth_test_refusing_the_token_fails(
    env: dict[str, str],
    slack_api: SlackApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack_api.invalid_tokens.add(env["SLACK_BOT_TOKEN"])
    monkeypatch.setenv("SLACK_API_URL", slack_api.base_url + "api/")
    code = await asyncio.to_thread(main, ["doctor", "--slack"])
    out = capsys.readouterr().out
    assert code == 1
    base = slack_api.base_url + "api/"
    assert f"✗ Slack: auth.test at {base} answered invalid_auth; check SLACK_BOT_TOKEN" in out


def test_slack_api_that_cannot_be_reached_fails(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f"http://127.0.0.1:{free_port()}/api/"
    monkeypatch.setenv("SLACK_API_URL", base)
    code, lines = run(capsys, "--slack")
    assert code == 1
    assert lines["Slack"].startswith(f"✗ Slack: cannot reach {base}: ")
    assert lines["Slack"].endswith("; check SLACK_API_URL")
