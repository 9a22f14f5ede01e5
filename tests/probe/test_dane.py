"""DANE (RFC 7672) with DNSSEC, against a real validating resolver.

Given a zone ``dane.test`` signed by the test DNS server (dnspython's ``dns.dnssec``) and
trusted by Debian's ``unbound`` through a trust anchor, an unsigned zone ``plain.test``,
and SMTP servers on loopback whose certificates do or do not match their TLSA records;
when the prober asks unbound (``TLSBOT_DNSSEC=resolver``); then the DNSSEC status of
every answer and the DANE result of every host are what RFC 7672 says.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.clock import system_clock
from bot.commands.probe_text import result_lines
from bot.probe.certs import TrustStore
from bot.probe.dane import check
from bot.probe.dns import RecordsResult
from bot.probe.findings import facts, next_steps, warnings
from bot.probe.model import DANE_LABEL, Code, DaneStatus, Dnssec, Reason, TargetResult, Verdict
from bot.probe.prober import Prober
from bot.probe.settings import DnssecMode, ProbeSettings
from bot.slack.views.results import check_message
from tests.support.certs import CertCase, Pki
from tests.support.dane_world import dane_ee, dane_ta, other_key, spki
from tests.support.dns_server import DnsServer
from tests.support.slack_api import all_text
from tests.support.smtp_server import Behaviour, SmtpFleet, SmtpServer, free_port
from tests.support.unbound import Unbound, needs_unbound

pytestmark = [pytest.mark.timeout(60), needs_unbound]
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@dataclass
class World:
    dns: DnsServer
    resolver: Unbound
    port: int
    fleet: SmtpFleet
    trust: TrustStore

    def settings(self, **kw: object) -> ProbeSettings:
        base: dict[str, object] = {
            "dns_servers": (self.resolver.address,),
            "dnssec": DnssecMode.RESOLVER,
            "smtp_port": self.port,
            "timeout": 5.0,
            "dns_timeout": 2.0,
            "allow_networks": LOOPBACK,
            "ehlo_name": "probe.example.test",
        }
        base.update(kw)
        return ProbeSettings(**base)  # type: ignore[arg-type]

    def prober(self, **kw: object) -> Prober:
        return Prober(self.settings(**kw), clock=system_clock, trust=self.trust, extras=True)


HOSTS = {
    # name: (address, certificate case, behaviour)
    "mx.dane.test": ("127.0.8.1", CertCase.SELF_SIGNED, Behaviour.STARTTLS),
    "mx.mismatch.dane.test": ("127.0.8.2", CertCase.SELF_SIGNED, Behaviour.STARTTLS),
    "mx.ta.dane.test": ("127.0.8.3", CertCase.UNTRUSTED_ROOT, Behaviour.STARTTLS),
    "mx.notls.dane.test": ("127.0.8.4", None, Behaviour.NO_STARTTLS),
    "mx.bogus.dane.test": ("127.0.8.5", CertCase.SELF_SIGNED, Behaviour.STARTTLS),
    "mx.pkix.dane.test": ("127.0.8.6", CertCase.SELF_SIGNED, Behaviour.STARTTLS),
    "mx.trusted.dane.test": ("127.0.8.7", CertCase.TRUSTED, Behaviour.STARTTLS),
    "mx.plain.test": ("127.0.8.8", CertCase.SELF_SIGNED, Behaviour.STARTTLS),
}


@pytest.fixture(scope="module")
def world(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    port = free_port()
    served = {
        name: pki.serve(case, name) if case is not None else None
        for name, (_, case, _) in HOSTS.items()
    }
    records: dict[str, dict[str, str | list[str]]] = {}
    for name, (address, _, _) in HOSTS.items():
        domain = name.removeprefix("mx.")
        records[domain] = {"MX": f"10 {name}."}
        records[name] = {"A": address}

    def tlsa(name: str, value: str) -> None:
        records[f"_{port}._tcp.{name}"] = {"TLSA": value}

    leaf = {name: s.leaf for name, s in served.items() if s is not None}
    tlsa("mx.dane.test", dane_ee(leaf["mx.dane.test"]))
    tlsa("mx.mismatch.dane.test", other_key())
    tlsa("mx.ta.dane.test", dane_ta(pki.untrusted_root.cert))
    tlsa("mx.notls.dane.test", other_key())
    tlsa("mx.bogus.dane.test", dane_ee(leaf["mx.bogus.dane.test"]))
    tlsa("mx.pkix.dane.test", "1 1 1 " + dane_ee(leaf["mx.pkix.dane.test"]).split()[-1])
    tlsa("mx.trusted.dane.test", other_key())
    tlsa("mx.plain.test", dane_ee(leaf["mx.plain.test"]))
    # an unsigned domain whose MX is a signed host with a matching TLSA record
    records["unsigned-mx.test"] = {"MX": "10 mx.dane.test."}
    # a signed domain whose MX answer is bogus
    records["bogusmx.dane.test"] = {"MX": "10 mx.dane.test."}
    servers = [
        SmtpServer(address, port, behaviour, cert=served[name], name=name)
        for name, (address, _, behaviour) in HOSTS.items()
    ]
    with DnsServer(records, ipv6=False) as dns:
        anchor = dns.sign(
            "dane.test", bogus=[f"_{port}._tcp.mx.bogus.dane.test", "bogusmx.dane.test"]
        )
        directory = Path(tmp_path_factory.mktemp("unbound"))
        with (
            Unbound(directory, forward_to=dns.address, trust_anchors=[anchor]) as resolver,
            SmtpFleet(servers) as fleet,
        ):
            yield World(dns, resolver, port, fleet, TrustStore.load(pki.ca_file, system=False))


async def probe(world: World, domain: str, **kw: object) -> TargetResult:
    return await world.prober(**kw).probe_domain(domain)


async def test_secure_and_matching_is_dane_valid_and_strict(world: World) -> None:
    # Given a signed domain whose self-signed MX certificate matches its 3 1 1 record
    result = await probe(world, "dane.test")
    (host,) = result.hosts
    # Then the MX answer and the host's addresses are secure, and DANE verified it
    assert result.dnssec is Dnssec.SECURE
    assert host.dnssec is Dnssec.SECURE
    assert host.dane is not None
    assert host.dane.status is DaneStatus.VALID
    assert host.dane.matched == "3 1 1"
    assert host.dane.dnssec is Dnssec.SECURE
    # and the self-signed certificate is authenticated: strict, shown as DANE verified
    assert host.verdict is Verdict.STRICT
    assert result.verdict is Verdict.STRICT
    assert host.reasons == ()
    assert result.label == DANE_LABEL == "Strict - DANE verified"
    assert result.dane_verified
    assert [w.code for w in host.warnings] == [Code.SELF_SIGNED]
    assert "DANE verified (3 1 1 matches)" in " ".join(facts(result))
    as_json = result.to_dict()
    assert as_json["label"] == "Strict - DANE verified"
    assert as_json["hosts"][0]["dane"]["status"] == "dane-valid"
    assert as_json["dnssec"] == "secure"


async def test_dane_ta_authenticates_a_chain_to_an_unknown_root(world: World) -> None:
    # Given a chain to a root nobody trusts, whose root is named by a 2 0 1 record
    result = await probe(world, "ta.dane.test")
    (host,) = result.hosts
    assert host.dane is not None
    assert host.dane.status is DaneStatus.VALID
    assert host.dane.matched == "2 0 1"
    assert result.verdict is Verdict.STRICT
    assert result.label == DANE_LABEL


async def test_tlsa_mismatch_is_tlsa_invalid_and_not_strict(world: World) -> None:
    result = await probe(world, "mismatch.dane.test")
    (host,) = result.hosts
    assert host.dane is not None
    assert host.dane.status is DaneStatus.TLSA_INVALID
    assert host.verdict is Verdict.RELAXED
    assert [r.code for r in host.reasons] == [Code.SELF_SIGNED, Code.TLSA_INVALID]
    assert "will not deliver to it" in host.reasons[-1].message
    assert not result.dane_verified


async def test_tlsa_mismatch_beside_a_trusted_certificate_is_a_warning(world: World) -> None:
    # Given a WebPKI-trusted certificate that no longer matches the published TLSA record
    result = await probe(world, "trusted.dane.test")
    (host,) = result.hosts
    # Then the verdict stays strict (by WebPKI), and DANE's refusal is a warning
    assert host.verdict is Verdict.STRICT
    assert result.label == "Strict - Trusted Enforced"
    assert Code.TLSA_INVALID.value in [w.code for w in warnings(result)]


async def test_signed_with_tlsa_but_no_starttls_is_dane_required(world: World) -> None:
    result = await probe(world, "notls.dane.test")
    (host,) = result.hosts
    assert host.dane is not None
    assert host.dane.status is DaneStatus.REQUIRED
    assert result.verdict is Verdict.UNSUPPORTED
    assert [r.code for r in host.reasons] == [Code.STARTTLS_NOT_SUPPORTED, Code.DANE_REQUIRED]


async def test_bogus_tlsa_signature_is_dnssec_invalid_and_never_trusted(world: World) -> None:
    # Given a TLSA record that would match, but whose signature is corrupt
    result = await probe(world, "bogus.dane.test")
    (host,) = result.hosts
    assert host.dane is not None
    assert host.dane.status is DaneStatus.DNSSEC_INVALID
    assert host.dane.dnssec is Dnssec.BOGUS
    assert host.dane.records == ()  # the bogus data is never used
    # Then it never authenticates the self-signed certificate
    assert host.verdict is Verdict.RELAXED
    assert [r.code for r in host.reasons] == [Code.SELF_SIGNED, Code.DNSSEC_INVALID]


async def test_bogus_mx_answer_is_dnssec_invalid(world: World) -> None:
    result = await probe(world, "bogusmx.dane.test")
    assert result.hosts == ()
    assert result.dnssec is Dnssec.BOGUS
    assert result.verdict is Verdict.UNREACHABLE
    assert [r.code for r in result.reasons] == [Code.DNSSEC_INVALID]
    assert "fails DNSSEC validation (bogus)" in result.reasons[0].message


async def test_only_pkix_usages_are_unusable(world: World) -> None:
    result = await probe(world, "pkix.dane.test")
    (host,) = result.hosts
    assert host.dane is not None
    assert host.dane.status is DaneStatus.UNUSABLE
    assert host.verdict is Verdict.RELAXED
    assert Code.TLSA_INVALID in [r.code for r in host.reasons]


async def test_unsigned_zone_makes_no_dane_claim(world: World) -> None:
    # Given an unsigned zone whose (unsigned) TLSA record matches the certificate
    result = await probe(world, "plain.test")
    (host,) = result.hosts
    # Then nothing is claimed: insecure, not signed, relaxed, no DANE warning
    assert result.dnssec is Dnssec.INSECURE
    assert host.dnssec is Dnssec.INSECURE
    assert host.dane is not None
    assert host.dane.status is DaneStatus.NOT_SIGNED
    assert host.verdict is Verdict.RELAXED
    assert [r.code for r in host.reasons] == [Code.SELF_SIGNED]
    assert not [w for w in warnings(result) if "DANE" in w.message]


async def test_an_unsigned_mx_answer_gets_no_dane_from_a_signed_host(world: World) -> None:
    # Given one batch probing a signed domain and an unsigned one sharing its MX host
    results = await world.prober().probe_many(["dane.test", "unsigned-mx.test"])
    signed, unsigned = results
    # Then the host is probed once and DANE applies only where the MX answer is secure
    assert signed.verdict is Verdict.STRICT
    assert unsigned.dnssec is Dnssec.INSECURE
    assert unsigned.verdict is Verdict.RELAXED
    (host,) = unsigned.hosts
    assert host.dane is not None
    assert host.dane.status is DaneStatus.NOT_SIGNED
    assert "MX records of unsigned-mx.test are not DNSSEC-signed" in host.dane.message


async def test_dnssec_off_checks_nothing(world: World) -> None:
    result = await probe(world, "dane.test", dnssec=DnssecMode.OFF)
    (host,) = result.hosts
    assert result.dnssec is None
    assert host.dane is None
    assert host.verdict is Verdict.RELAXED
    assert "dane-not-checked" in [w.code for w in warnings(result)]


async def test_dnssec_and_dane_read_the_same_in_the_text_output_and_slack(world: World) -> None:
    results = await world.prober().probe_many(["dane.test", "mismatch.dane.test"])
    verified, mismatch = results
    text = "\n".join(result_lines(verified)) + "\n"
    slack = all_text(check_message(verified))
    assert text.startswith("✓ dane.test: Strict - DANE verified [strict]\n")
    assert "Strict - DANE verified" in slack
    for fact in (
        "DNSSEC: the MX records are signed and validate (secure)",
        "DANE: mx.dane.test: DANE verified (3 1 1 matches)",
    ):
        assert f"    {fact}\n" in text
        assert f"_{fact}_" in slack
    text = "\n".join(result_lines(mismatch)) + "\n"
    slack = all_text(check_message(mismatch))
    line = (
        "DANE: mx.mismatch.dane.test: the TLSA records do not match the certificate: DANE "
        "senders will not deliver there"
    )
    assert f"    {line}\n" in text
    assert f"_{line}_" in slack
    assert "tlsa-invalid: the certificate of mx.mismatch.dane.test matches none" in text


# -- the matching rules, on a certificate alone ------------------------------------


def _checked(
    pki: Pki,
    records: tuple[str, ...],
    *,
    case: CertCase = CertCase.SELF_SIGNED,
    host: str = "mx.rules.test",
    error: Reason | None = None,
    address: Dnssec | None = Dnssec.SECURE,
    tls: bool = True,
    starttls: bool | None = True,
) -> DaneStatus:
    served = pki.serve(case, "mx.rules.test")
    chain = tuple(
        x509.load_pem_x509_certificate(block).public_bytes(serialization.Encoding.DER)
        for block in _pem_blocks(served.cert_file.read_bytes())
    )
    found = RecordsResult("_25._tcp.mx.rules.test", records, error=error, dnssec=Dnssec.SECURE)
    return check(
        host,
        found,
        address_dnssec=address,
        chain=chain if tls else (),
        starttls_offered=starttls,
        now=datetime.now(UTC),
    ).status


def _pem_blocks(data: bytes) -> list[bytes]:
    marker = b"-----END CERTIFICATE-----"
    return [part + marker for part in data.split(marker) if b"BEGIN" in part]


def _digest(data: bytes, mtype: int) -> str:
    if mtype == 0:
        return data.hex()
    return (hashlib.sha256 if mtype == 1 else hashlib.sha512)(data).hexdigest()


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_dane_ee_matches_by_every_selector_and_matching_type(
    pki: Pki, selector: int, mtype: int
) -> None:
    leaf = pki.serve(CertCase.SELF_SIGNED, "mx.rules.test").leaf
    data = leaf.public_bytes(serialization.Encoding.DER) if selector == 0 else spki(leaf)
    record = f"3 {selector} {mtype} {_digest(data, mtype)}"
    assert _checked(pki, (record,)) is DaneStatus.VALID


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ("3 1 1 abcd", "3 1 1: a digest of 2 bytes, not 32"),
        ("not a record", "'not a record' is not 'usage selector matching-type data'"),
        ("0 0 1 " + "ab" * 32, "0 0 1: PKIX-TA is not used for SMTP"),
        ("3 2 1 " + "ab" * 32, "3 2 1: unknown selector 2"),
        ("3 1 9 " + "ab" * 32, "3 1 9: unknown matching type 9"),
        ("4 1 1 " + "ab" * 32, "4 1 1: unknown usage 4"),
        ("3 1 1 zz", "does not end in hexadecimal data"),
        ("3 1 256 ab", "has '256' where a number 0-255 belongs"),
    ],
)
def test_an_unusable_record_says_why(record: str, says: str) -> None:
    found = RecordsResult("_25._tcp.mx.rules.test", (record,), dnssec=Dnssec.SECURE)
    result = check(
        "mx.rules.test",
        found,
        address_dnssec=Dnssec.SECURE,
        chain=(b"x",),
        starttls_offered=True,
        now=datetime.now(UTC),
    )
    assert result.status is DaneStatus.UNUSABLE
    assert says in result.message


def test_dane_ta_checks_the_name_the_chain_and_the_dates(pki: Pki) -> None:
    anchor = dane_ta(pki.intermediate.cert)
    assert _checked(pki, (anchor,), case=CertCase.TRUSTED) is DaneStatus.VALID
    # another name than the MX host: DANE-TA checks names (DANE-EE does not)
    wrong = _checked(pki, (anchor,), case=CertCase.TRUSTED, host="mx.other.test")
    assert wrong is DaneStatus.TLSA_INVALID
    assert _checked(pki, (anchor,), case=CertCase.EXPIRED) is DaneStatus.TLSA_INVALID
    # the leaf itself is not a trust anchor
    leaf = pki.serve(CertCase.TRUSTED, "mx.rules.test").leaf
    assert _checked(pki, (dane_ta(leaf),), case=CertCase.TRUSTED) is DaneStatus.TLSA_INVALID


def test_what_cannot_be_matched_says_why(pki: Pki) -> None:
    record = dane_ee(pki.serve(CertCase.SELF_SIGNED, "mx.rules.test").leaf)
    failed = Reason(Code.DNS_SERVFAIL, "SERVFAIL")
    assert _checked(pki, (), error=failed) is DaneStatus.LOOKUP_FAILED
    assert _checked(pki, (record,), tls=False) is DaneStatus.NOT_TESTED
    assert _checked(pki, (record,), address=Dnssec.BOGUS) is DaneStatus.DNSSEC_INVALID
    assert _checked(pki, (record,), address=Dnssec.INSECURE) is DaneStatus.NOT_SIGNED
    assert _checked(pki, ()) is DaneStatus.NO_TLSA
    assert _checked(pki, (record,), starttls=False, tls=False) is DaneStatus.REQUIRED


async def test_next_steps_say_what_to_ask_of_a_dane_partner(world: World) -> None:
    verified, mismatch, bogus = await world.prober().probe_many(
        ["dane.test", "mismatch.dane.test", "bogusmx.dane.test"]
    )
    assert next_steps(verified) == (
        "Nothing: DNSSEC-signed TLSA records of dane.test match its certificates",
    )
    assert (
        "Ask mismatch.dane.test to publish TLSA records that match the certificate "
        "mx.mismatch.dane.test serves (or serve the certificate its records name): senders "
        "that use DANE do not deliver there"
    ) in next_steps(mismatch)
    assert next_steps(bogus) == (
        "Ask bogusmx.dane.test to fix its DNSSEC: validating resolvers refuse its MX "
        "records, so mail to it is deferred",
    )
