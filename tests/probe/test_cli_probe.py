"""``tlsbot probe`` end to end, in process: loopback DNS, loopback SMTP servers, real TLS.

One world of domains covers every row of the verdict table; it is probed once through
``tlsbot probe --json`` and each row is checked on its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.conftest import _attempts
from tests.support.certs import CertCase, Pki
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import Behaviour, SmtpFleet, SmtpServer, free_port

pytestmark = pytest.mark.timeout(60)

TIMEOUT = "2"


@dataclass(frozen=True)
class Row:
    domain: str
    behaviour: Behaviour | None  # None: nobody listens (refused port)
    case: CertCase
    verdict: str
    code: str | None


ROWS = [
    Row("strict.test", Behaviour.STARTTLS, CertCase.TRUSTED, "strict", None),
    Row("selfsigned.test", Behaviour.STARTTLS, CertCase.SELF_SIGNED, "relaxed", "self-signed"),
    Row("expired.test", Behaviour.STARTTLS, CertCase.EXPIRED, "relaxed", "certificate-expired"),
    Row(
        "notyet.test",
        Behaviour.STARTTLS,
        CertCase.NOT_YET_VALID,
        "relaxed",
        "certificate-not-yet-valid",
    ),
    Row(
        "wrongname.test",
        Behaviour.STARTTLS,
        CertCase.WRONG_NAME,
        "relaxed",
        "certificate-host-mismatch",
    ),
    Row(
        "nochain.test",
        Behaviour.STARTTLS,
        CertCase.MISSING_INTERMEDIATE,
        "relaxed",
        "incomplete-chain",
    ),
    Row(
        "untrusted.test",
        Behaviour.STARTTLS,
        CertCase.UNTRUSTED_ROOT,
        "relaxed",
        "certificate-not-trusted",
    ),
    Row(
        "nostarttls.test",
        Behaviour.NO_STARTTLS,
        CertCase.TRUSTED,
        "unsupported",
        "starttls-not-supported",
    ),
    Row("refuse.test", Behaviour.STARTTLS_502, CertCase.TRUSTED, "unsupported", "starttls-refused"),
    Row("tls10.test", Behaviour.TLS10_ONLY, CertCase.TRUSTED, "unsupported", "tls-version-too-old"),
    Row("aes128.test", Behaviour.AES128_ONLY, CertCase.TRUSTED, "unsupported", "no-aes256-suite"),
    Row(
        "busy.test", Behaviour.GREETING_421, CertCase.TRUSTED, "unreachable", "smtp-greeting-error"
    ),
    Row("later.test", Behaviour.STARTTLS_454, CertCase.TRUSTED, "unreachable", "starttls-refused"),
    Row("tarpit.test", Behaviour.TARPIT, CertCase.TRUSTED, "unreachable", "timeout"),
    Row(
        "banner.test", Behaviour.HUGE_BANNER, CertCase.TRUSTED, "unreachable", "smtp-protocol-error"
    ),
    Row("closed.test", None, CertCase.TRUSTED, "unreachable", "connect-refused"),
]
DNS_ONLY = [
    ("nosuch.test", "dns-nxdomain"),
    ("nullmx.test", "null-mx"),
]


@dataclass
class World:
    port: int
    dns: DnsServer
    fleet: SmtpFleet
    pki: Pki
    address_of: dict[str, str]

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "TLSBOT_DNS_SERVERS": ",".join(f"{ip}:{port}" for ip, port in self.dns.servers[:1]),
            "TLSBOT_SMTP_PORT": str(self.port),
            "TLSBOT_CA_FILE": str(self.pki.ca_file),
            "TLSBOT_PROBE_ALLOW_NETWORKS": "127.0.0.0/8",
            "TLSBOT_PROBE_TIMEOUT": TIMEOUT,
            "TLSBOT_EHLO_NAME": "probe.example.test",
        }
        env.update(extra)
        return {k: v for k, v in env.items() if v}


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("TLSBOT_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith("TLSBOT_")]:
            del os.environ[name]
        os.environ.update(saved)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    pki = Pki.mint(Path(tmp_path_factory.mktemp("cli-pki")))
    port = free_port()
    records: dict[str, dict[str, Any]] = {}
    servers = []
    address_of = {}
    for i, row in enumerate(ROWS):
        mx = f"mx.{row.domain}"
        address = f"127.0.1.{i + 2}"
        address_of[row.domain] = address
        records[row.domain] = {"MX": f"10 {mx}."}
        records[mx] = {"A": address}
        if row.behaviour is not None:
            served = pki.serve(row.case, mx)
            servers.append(SmtpServer(address, port, row.behaviour, cert=served, name=mx))
    # implicit MX: the domain's own address, with a certificate naming the domain
    records["implicit.test"] = {"A": "127.0.2.1"}
    servers.append(SmtpServer("127.0.2.1", port, cert=pki.serve(CertCase.TRUSTED, "implicit.test")))
    # two MX hosts, one good and one without STARTTLS: the domain is as bad as its worst
    records["mixed.test"] = {"MX": ["10 mx.strict.test.", "20 mx.nostarttls.test."]}
    # an MX whose name resolves through a CNAME
    records["alias.test"] = {"MX": "10 mail.alias.test."}
    records["mail.alias.test"] = {"CNAME": "mx.strict.test."}
    records["nullmx.test"] = {"MX": "0 ."}
    # extra facts that never change a verdict
    records["_smtp._tls.strict.test"] = {"TXT": "v=TLSRPTv1; rua=mailto:tls@strict.test"}
    records[f"_{port}._tcp.mx.strict.test"] = {"TLSA": "3 1 1 " + "ab" * 32}
    with DnsServer(records) as dns, SmtpFleet(servers) as fleet:
        yield World(port, dns, fleet, pki, address_of)


def run_cli(world: World, args: list[str], **env: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    before = len(_attempts)
    with (
        environment(world.env(**env)),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(args)
    assert len(_attempts) == before, "the probe tried to leave loopback"
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def batch(world: World) -> tuple[int, dict[str, dict[str, Any]], str]:
    domains = [r.domain for r in ROWS] + [d for d, _ in DNS_ONLY]
    domains += ["implicit.test", "mixed.test", "alias.test"]
    code, out, err = run_cli(world, ["probe", "--json", *domains])
    document = json.loads(out)
    return code, {r["target"]: r for r in document["results"]}, err


@pytest.mark.parametrize("row", ROWS, ids=[r.domain for r in ROWS])
def test_each_verdict_row_through_the_cli(
    batch: tuple[int, dict[str, dict[str, Any]], str], row: Row
) -> None:
    _, results, _ = batch
    result = results[row.domain]
    assert result["verdict"] == row.verdict
    (host,) = result["hosts"]
    assert host["host"] == f"mx.{row.domain}"
    assert host["verdict"] == row.verdict
    if row.code is None:
        assert host["reasons"] == []
        assert host["certificate"]["sans"] == [f"mx.{row.domain}"]
    else:
        assert host["reasons"][0]["code"] == row.code
        assert host["reason"] == host["reasons"][0]["message"]
    assert host["connections"] <= 2


@pytest.mark.parametrize(("domain", "code"), DNS_ONLY, ids=[d for d, _ in DNS_ONLY])
def test_dns_problems_are_target_reasons(
    batch: tuple[int, dict[str, dict[str, Any]], str], domain: str, code: str
) -> None:
    result = batch[1][domain]
    assert result["verdict"] == "unreachable"
    assert result["hosts"] == []
    assert result["reasons"][0]["code"] == code


def test_batch_exit_code_and_progress(batch: tuple[int, dict[str, dict[str, Any]], str]) -> None:
    code, results, err = batch
    assert code == 1  # some targets are not strict or relaxed
    assert f"probed {len(results)}/{len(results)}" in err


def test_implicit_mx_uses_the_domains_own_address(
    batch: tuple[int, dict[str, dict[str, Any]], str],
) -> None:
    result = batch[1]["implicit.test"]
    assert result["implicit_mx"] is True
    assert result["verdict"] == "strict"
    assert result["hosts"][0]["address"] == "127.0.2.1"


def test_domain_is_as_bad_as_its_worst_host(
    batch: tuple[int, dict[str, dict[str, Any]], str],
) -> None:
    result = batch[1]["mixed.test"]
    assert result["mx"] == ["mx.strict.test", "mx.nostarttls.test"]
    assert [h["verdict"] for h in result["hosts"]] == ["strict", "unsupported"]
    assert result["verdict"] == "unsupported"


def test_cname_mx_is_probed_under_its_mx_name(
    batch: tuple[int, dict[str, dict[str, Any]], str],
) -> None:
    result = batch[1]["alias.test"]
    (host,) = result["hosts"]
    # the certificate names mx.strict.test, the MX name is mail.alias.test: not the same host
    assert host["address"] == "127.0.1.2"
    assert host["reasons"][0]["code"] == "certificate-host-mismatch"


def test_loopback_mx_is_refused_without_the_allow_list(world: World) -> None:
    server = world.fleet.by_address(world.address_of["strict.test"])
    before = server.connections
    code, out, _ = run_cli(
        world, ["probe", "--json", "strict.test"], TLSBOT_PROBE_ALLOW_NETWORKS=""
    )
    result = json.loads(out)["results"][0]
    assert code == 1
    assert result["verdict"] == "unreachable"
    assert result["hosts"][0]["reasons"][0]["code"] == "address-not-public"
    assert "TLSBOT_PROBE_ALLOW_NETWORKS" in result["hosts"][0]["reason"]
    assert server.connections == before  # never connected


def test_email_target_asks_the_recipient_inside_tls(world: World) -> None:
    code, out, _ = run_cli(world, ["probe", "--json", "postmaster@strict.test"])
    result = json.loads(out)["results"][0]
    assert code == 0
    assert result["kind"] == "email"
    assert result["domain"] == "strict.test"
    assert result["hosts"][0]["recipient_accepted"] is True
    server = world.fleet.by_address(world.address_of["strict.test"])
    assert "RCPT TO:<postmaster@strict.test>" in server.commands
    assert not any(c.upper().startswith("DATA") for c in server.commands)


def test_routes_use_their_own_allow_list(world: World) -> None:
    address = world.address_of["strict.test"]
    args = ["probe", "--json", "--route", "mx.strict.test", "--route", f"{address}:{world.port}"]
    # the external allow list does not open loopback to routes
    code, out, _ = run_cli(world, args)
    results = json.loads(out)["results"]
    assert code == 1
    assert [r["hosts"][0]["reasons"][0]["code"] for r in results] == ["address-not-public"] * 2
    assert "TLSBOT_ROUTE_ALLOW_NETWORKS" in results[0]["hosts"][0]["reason"]
    # the route allow list does
    code, out, _ = run_cli(world, args, TLSBOT_ROUTE_ALLOW_NETWORKS="127.0.0.0/8")
    results = json.loads(out)["results"]
    assert code == 0
    assert [r["kind"] for r in results] == ["route", "route"]
    assert results[0]["verdict"] == "strict"
    # an IP literal route has no name to match: the certificate names mx.strict.test
    assert results[1]["verdict"] == "relaxed"
    assert results[1]["hosts"][0]["reasons"][0]["code"] == "certificate-host-mismatch"


def test_readable_output_ticks_and_crosses(world: World) -> None:
    code, out, _ = run_cli(world, ["probe", "strict.test", "nostarttls.test", "expired.test"])
    assert code == 1
    assert "✓ strict.test: Strict - Trusted Enforced [strict]" in out
    assert re.search(r"certificate expires \d{4}-\d\d-\d\d \(\d+ days\)", out)
    assert re.search(r"certificate expired \d{4}-\d\d-\d\d \(\d+ days ago\)", out)
    assert "✗ nostarttls.test: TLS Not Supported [unsupported]" in out
    assert "starttls-not-supported: the server does not offer STARTTLS" in out
    assert "  ✓ mx.strict.test 127.0.1.2" in out


def test_bad_targets_get_one_line_each_and_the_rest_is_probed(world: World, tmp_path: Path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("# partners\nstrict.test\n\nexample..bad\nStrict.Test.\n")
    missing = tmp_path / "missing.txt"
    args = ["probe", "--json", "--file", str(listing), "--file", str(missing), "bad@", "x y.test"]
    args += ["--route", "mx.strict.test:99999"]
    code, out, err = run_cli(world, args)
    lines = err.strip().splitlines()
    assert code == 1
    assert len(lines) == 5, lines
    assert any("bad route" in line and "99999" in line for line in lines)
    assert any("example..bad" in line for line in lines)
    assert any("missing.txt" in line and "cannot read" in line for line in lines)
    assert any("'bad@'" in line for line in lines)
    assert any("x y.test" in line for line in lines)
    assert "Traceback" not in err
    document = json.loads(out)
    assert [r["domain"] for r in document["results"]] == ["strict.test"]  # duplicates merged
    assert len(document["errors"]) == 5


def test_targets_from_stdin(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("strict.test\nimplicit.test\n"))
    code, out, _ = run_cli(world, ["probe", "--json", "--file", "-"])
    assert code == 0
    assert [r["verdict"] for r in json.loads(out)["results"]] == ["strict", "strict"]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["probe"], {}, "nothing to probe"),
        (["probe", "strict.test"], {"TLSBOT_PROBE_TIMEOUT": "soon"}, "TLSBOT_PROBE_TIMEOUT"),
    ],
    ids=["no-targets", "bad-setting"],
)
def test_usage_errors_exit_2(
    world: World, args: list[str], env: dict[str, str], message: str
) -> None:
    code, out, err = run_cli(world, args, **env)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_extra_facts_are_reported_and_change_nothing(
    batch: tuple[int, dict[str, dict[str, Any]], str], world: World
) -> None:
    result = batch[1]["strict.test"]
    assert result["verdict"] == "strict"
    extras = result["extras"]
    assert extras["tls_rpt"] == "v=TLSRPTv1; rua=mailto:tls@strict.test"
    assert len(extras["tlsa"]) == 1
    assert extras["tlsa"][0].startswith(f"_{world.port}._tcp.mx.strict.test. 3 1 1 ")
    assert extras["mta_sts_mode"] is None
    (warning,) = result["warnings"]
    assert warning["code"] == "dane-not-checked"
    assert warning["host"] == "mx.strict.test"
    code, out, _ = run_cli(world, ["probe", "strict.test"])
    assert code == 0
    assert "    DANE: TLSA at mx.strict.test: 3 1 1 abababababababab… (not checked)\n" in out
    assert "    TLS-RPT: v=TLSRPTv1; rua=mailto:tls@strict.test\n" in out
    # the warning of --json, in the same words
    assert f"    ⚠ dane-not-checked: {warning['message']}\n" in out


def test_json_lists_every_address_with_its_family_connections_and_phases(
    batch: tuple[int, dict[str, dict[str, Any]], str],
) -> None:
    (host,) = batch[1]["strict.test"]["hosts"]
    assert host["family"] == "ipv4"
    assert host["counted"] is True
    assert host["connections"] == len(host["attempts"]) == 1
    (attempt,) = host["attempts"]
    assert attempt["purpose"] == "first"
    assert attempt["outcome"] == "ok"
    assert list(attempt["phases_ms"])[:5] == ["connect", "banner", "ehlo", "starttls", "handshake"]
    assert all(isinstance(ms, int) and ms >= 0 for ms in attempt["phases_ms"].values())
    # a follow-up is listed with its own purpose: the AES-128-only host asked again
    (aes128,) = batch[1]["aes128.test"]["hosts"]
    assert [a["purpose"] for a in aes128["attempts"]] == ["first", "aes256"]
    assert batch[1]["nullmx.test"]["label"] == "Accepts no mail (null MX)"
    # the only warning: the TLSA record it publishes, which tlsbot does not check
    assert [w["code"] for w in batch[1]["strict.test"]["warnings"]] == ["dane-not-checked"]
