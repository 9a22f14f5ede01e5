"""Outbound port 25 blocked: said once when every connection of a batch failed but DNS answered.

Real probes over loopback: a DNS server that answers, SMTP addresses that black-hole
connections (SYNs dropped: the connection times out) or refuse them (nothing listens),
and, for contrast, one real SMTP server. The probe deadline is short, so the whole
batch costs about one deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from bot.probe.diagnose import PORT_BLOCKED, diagnose
from bot.probe.model import Code, HostResult, Reason, TargetKind, TargetResult, Verdict
from tests.support.blackhole import BlackHole
from tests.support.certs import CertCase, Pki
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import SmtpFleet, SmtpServer, free_port

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 0.5
HOLES = {"hole1.test": "127.0.9.1", "hole2.test": "127.0.9.2"}
CLOSED = {"closed.test": "127.0.9.3"}  # nothing listens: refused
OPEN = {"open.test": "127.0.9.4"}  # a real SMTP server with STARTTLS


@dataclass
class World:
    env: dict[str, str]
    port: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    pki = Pki.mint(Path(tmp_path_factory.mktemp("diagnose-pki")))
    port = free_port()
    records: dict[str, dict[str, str]] = {}
    for domain, address in {**HOLES, **CLOSED, **OPEN}.items():
        records[domain] = {"MX": f"10 mx.{domain}."}
        records[f"mx.{domain}"] = {"A": address}
    server = SmtpServer(
        OPEN["open.test"], port, cert=pki.serve(CertCase.TRUSTED, "mx.open.test"), name="open"
    )
    with ExitStack() as stack:
        dns = stack.enter_context(DnsServer(records))
        stack.enter_context(SmtpFleet([server]))
        for address in HOLES.values():
            stack.enter_context(BlackHole(address, port))
        ip, dns_port = dns.address
        yield World(
            {
                "TLSBOT_DNS_SERVERS": f"{ip}:{dns_port}",
                "TLSBOT_SMTP_PORT": str(port),
                "TLSBOT_CA_FILE": str(pki.ca_file),
                "TLSBOT_PROBE_ALLOW_NETWORKS": "127.0.0.0/8",
                "TLSBOT_PROBE_TIMEOUT": str(TIMEOUT),
                "TLSBOT_EHLO_NAME": "probe.diagnose.test",
            },
            port,
        )


def probe(
    world: World,
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    **env: str,
) -> tuple[int, str]:
    for name, value in {**world.env, **env}.items():
        monkeypatch.setenv(name, value)
    code = main(["probe", *args])
    return code, capsys.readouterr().out


BLOCKED_BATCH = [*HOLES, *CLOSED, "missing.test"]  # missing.test: NXDOMAIN


def test_a_blocked_batch_is_said_once_in_json(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code, out = probe(world, ["--json", *BLOCKED_BATCH], monkeypatch, capsys)
    assert time.monotonic() - started < 5 * TIMEOUT + 2  # one deadline for the whole batch
    document = json.loads(out)
    assert code == 1
    diagnosis = document["diagnosis"]
    assert diagnosis["code"] == PORT_BLOCKED
    assert diagnosis["ports"] == [world.port]
    assert (diagnosis["addresses"], diagnosis["targets"]) == (3, 3)
    assert (diagnosis["timed_out"], diagnosis["refused"]) == (2, 1)
    assert diagnosis["message"].startswith(f"This host seems unable to reach port {world.port}:")
    assert "timed out or were refused, while DNS answered" in diagnosis["message"]
    codes = {r["target"]: r["hosts"][0]["reasons"][0]["code"] for r in document["results"][:3]}
    assert codes == {
        "hole1.test": "timeout",
        "hole2.test": "timeout",
        "closed.test": "connect-refused",
    }


def test_a_blocked_batch_reads_as_one_sentence_in_text(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = probe(world, BLOCKED_BATCH, monkeypatch, capsys)
    assert code == 1
    assert out.count("This host seems unable to reach port") == 1
    assert out.rstrip().splitlines()[-1].startswith("✗ This host seems unable to reach port")
    # the hosts it explains are not listed one by one ...
    assert "did not finish within" not in out
    assert "refused the connection" not in out
    for domain, address in {**HOLES, **CLOSED}.items():
        reached = f"  ✗ not reached: mx.{domain} {address}:{world.port} (see the note at the end)"
        assert reached in out.splitlines()
    # ... while a target with its own problem keeps it
    assert "dns-nxdomain: missing.test does not exist (NXDOMAIN)" in out
    for domain in (*HOLES, *CLOSED):
        assert f"✗ {domain}: Could not test [unreachable]" in out


def test_one_server_that_answers_clears_this_host(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = probe(world, ["--json", *HOLES, *CLOSED, *OPEN], monkeypatch, capsys)
    assert code == 1  # the holes are still not tested
    document = json.loads(out)
    assert document["diagnosis"] is None
    verdicts = {r["target"]: r["verdict"] for r in document["results"]}
    assert verdicts["open.test"] == "strict"
    _, out = probe(world, [*HOLES, *OPEN], monkeypatch, capsys)
    assert "This host seems unable" not in out
    assert "did not finish within" in out  # each failure is its own again


def test_one_address_is_not_enough_evidence(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = probe(world, ["--json", "hole1.test"], monkeypatch, capsys)
    assert json.loads(out)["diagnosis"] is None


def test_addresses_the_guard_refused_were_never_tried(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = probe(
        world, ["--json", *HOLES, *CLOSED], monkeypatch, capsys, TLSBOT_PROBE_ALLOW_NETWORKS=""
    )
    document = json.loads(out)
    assert document["diagnosis"] is None
    assert all(r["hosts"][0]["connections"] == 0 for r in document["results"])


# -- the pure function, on results as the probe makes them --------------------


def host(address: str, code: Code | None, *, reached: bool = False, port: int = 25) -> HostResult:
    reasons = (Reason(code, "…"),) if code is not None else ()
    verdict = Verdict.STRICT if code is None else Verdict.UNREACHABLE
    return HostResult("mx", address, port, verdict, reasons, reached=reached, connections=1)


def target(*hosts: HostResult) -> TargetResult:
    verdict = Verdict.worst([h.verdict for h in hosts])
    return TargetResult("d.test", TargetKind.DOMAIN, "d.test", verdict, hosts=hosts)


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([target(host("192.0.2.1", Code.TIMEOUT)), target(host("192.0.2.2", Code.TIMEOUT))], 2),
        ([target(host("192.0.2.1", Code.TIMEOUT), host("192.0.2.2", Code.CONNECT_FAILED))], 2),
        ([target(host("192.0.2.1", Code.TIMEOUT)), target(host("192.0.2.1", Code.TIMEOUT))], None),
        (
            [
                target(host("192.0.2.1", Code.TIMEOUT)),
                target(host("192.0.2.2", None, reached=True)),
            ],
            None,
        ),
        (
            [
                target(host("192.0.2.1", Code.TIMEOUT)),
                target(host("192.0.2.2", Code.SMTP_GREETING_ERROR, reached=False)),
            ],
            None,
        ),
        (
            [
                target(
                    host("192.0.2.1", Code.CONNECT_REFUSED), host("192.0.2.1", None, reached=True)
                )
            ],
            None,
        ),
        ([], None),
    ],
    ids=[
        "two-timeouts",
        "two-failures-one-target",
        "one-address-twice",
        "one-reached",
        "a-greeting-refusal-is-a-server",
        "same-address-once-failed-once-reached",
        "empty",
    ],
)
def test_diagnosis_table(results: list[TargetResult], expected: int | None) -> None:
    found = diagnose(results)
    assert (found.addresses if found is not None else None) == expected


def test_the_sentence_names_the_ports_and_what_happened() -> None:
    found = diagnose(
        [
            target(
                host("192.0.2.1", Code.CONNECT_REFUSED, port=25),
                host("192.0.2.2", Code.CONNECT_REFUSED, port=2525),
            )
        ]
    )
    assert found is not None
    assert found.message.startswith("This host seems unable to reach ports 25, 2525:")
    assert "addresses of 1 target were refused, while DNS answered" in found.message
    assert "open them" in found.message
