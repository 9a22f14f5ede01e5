"""The probe's certificate judgment against the x509-limbo suite (C2SP/x509-limbo).

Runs :func:`bot.probe.certs.analyse_chain` over every SERVER case of a compiled
``limbo.json``: the case's leaf and untrusted intermediates as the chain a server sent,
its trusted certificates as the only roots, its peer name as the MX host, its validation
time as the prober's clock. A case agrees when the probe calls the chain trusted exactly
when the suite expects SUCCESS. Prints the cases, the exceptions (must be 0), the
agreement over the cases that apply (target ≥ 99.5 %), the families left out as not
applying to SMTP with the reason for each, and every disagreement.

The suite is not committed (tests/probe/data/ holds a small subset, see its README).
Compile it with the suite's own tooling, from a checkout of C2SP/x509-limbo::

    python -m limbo compile -o limbo.json        # x509-limbo's `make limbo.json`

(its BetterTLS cases come from ``limbo/_assets/bettertls.json``, which x509-limbo's
``refresh-bettertls-testcases`` workflow writes with BetterTLS's own
``bettertls export-tests``; a checkout without that asset needs that step first),

then, from this repository's root::

    python3 bench/x509_limbo.py --limbo limbo.json [--show 20]
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from bot.clock import system_clock
from bot.probe.certs import PARSE_ERRORS, ChainReport, TrustStore, analyse_chain

# Families left out, and why they do not apply to judging an SMTP server's certificate the
# way OpenSSL and Postfix do. Keyed by limbo feature tag, by case-id prefix, or by the case
# asking for a customisation the probe never makes.
LEFT_OUT_FEATURES = {
    "has-crl": "revocation: neither Postfix nor the probe fetches CRLs for an SMTP server",
    "has-policy-constraints": "certificate policies: no SMTP client checks policy constraints",
    "pedantic-public-suffix-wildcard": "CA/Browser Forum public-suffix wildcard rule: needs "
    "the browsers' Public Suffix List; OpenSSL and Postfix do not apply it",
    "name-constraint-dn": "distinguished-name constraints: cryptography does not implement "
    "them yet (x509-limbo marks the family as temporary)",
    "pedantic-rfc5280": "pedantic RFC 5280 corners that x509-limbo itself says validators "
    "widely ignore",
    "rfc5280-incompatible-with-webpki": "RFC 5280 readings that the Web PKI profile (which "
    "the probe follows) contradicts",
    "pedantic-serial-number": "serial-number pedantry: trust stores carry roots with such "
    "serials and OpenSSL accepts them",
    "pedantic-webpki-eku": "CA/Browser Forum EKU pedantry (anyExtendedKeyUsage beside "
    "serverAuth, a leaf without EKU, an EKU in a root): OpenSSL's serverAuth purpose, and so "
    "Postfix, accept these; a leaf whose EKU lacks serverAuth is judged (rfc5280::eku)",
    "max-chain-depth": "a chain-depth limit set by the case: the probe uses the verifier's "
    "default depth, as Postfix uses OpenSSL's",
}
LEFT_OUT_PREFIXES = {
    "webpki::cn::": "CA/Browser Forum rules on how the subject CN is encoded: the probe never "
    "matches a host against the CN (RFC 6125, SAN only), so the CN's encoding cannot change "
    "a verdict",
}
CUSTOMISED = "the case asks for a key usage or EKU other than a TLS server's (serverAuth)"

# The cases of the committed subset (tests/probe/data/x509-limbo-subset.json, written by
# --write-subset): the ones issue 12 names, the BetterTLS malformed-SAN ones that used to
# raise, and neighbours of each on both sides of the verdict.
SUBSET_IDS = (
    "online::microsoft.com",
    "online::bing.com",
    "pathological::multiple-chains-expired-intermediate",
    "rfc5280::duplicate-extensions",
    "rfc5280::eku::ee-wrong-eku",
    "webpki::ca-as-leaf",
    "rfc5280::ee-critical-aia-invalid",
    "webpki::forbidden-weak-rsa-in-leaf",
    "webpki::forbidden-p192-leaf",
    "webpki::forbidden-dsa-leaf",
    "webpki::malformed-aia",
    "webpki::ee-basicconstraints-ca",
    "webpki::v1-cert",
    "webpki::explicit-curve",
    "webpki::cryptographydotio-chain",
    "webpki::cryptographydotio-chain-missing-intermediate",
    "webpki::san::exact-dns-san",
    "webpki::san::exact-localhost-ip-san",
    "webpki::san::leftmost-wildcard-san",
    "webpki::san::mismatch-domain-san",
    "webpki::san::no-san",
    "webpki::san::wildcard-embedded-leftmost-san",
    "rfc5280::san::malformed",
    "rfc5280::unknown-critical-extension-ee",
    "rfc5280::chain-untrusted-root",
    "rfc5280::root-and-intermediate-swapped",
    "rfc5280::validity::expired-leaf",
    "rfc5280::validity::expired-intermediate",
    "rfc5280::validity::expired-root",
    "rfc5280::validity::not-yet-valid-1-second",
    "rfc5280::validity::notafter-exact",
    "rfc5280::validity::notafter-fractional",
    "rfc5280::nc::permitted-dns-match",
    "rfc5280::nc::excluded-dns-match",
    "pathological::intermediate-cycle-distinct-cas",
    "bettertls::nameconstraints::tc8853",
    "bettertls::nameconstraints::tc8855",
    "bettertls::nameconstraints::tc8857",
    "bettertls::nameconstraints::tc8859",
    "bettertls::nameconstraints::tc8861",
    "bettertls::nameconstraints::tc8993",
    "bettertls::nameconstraints::tc9025",
    "bettertls::nameconstraints::tc9057",
    "bettertls::nameconstraints::tc9185",
    "bettertls::nameconstraints::tc9313",
    "bettertls::nameconstraints::tc9441",
    "bettertls::nameconstraints::tc0",
    "bettertls::nameconstraints::tc1022",
    "bettertls::pathbuilding::tc0",
    "bettertls::pathbuilding::tc1",
    "bettertls::pathbuilding::tc3",
    # left out, to test the rule that leaves them out
    "webpki::cn::not-in-san",
    "crl::revoked-certificate-with-crl",
    "rfc5280::serial::negative",
)


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    expected: bool  # the suite expects the chain to be accepted
    trusted: bool | None  # None: analyse_chain raised
    detail: str

    @property
    def agrees(self) -> bool:
        return self.trusted is self.expected


def load(path: Path) -> list[dict[str, Any]]:
    """The SERVER cases of a limbo.json (or of the committed subset, same format)."""
    data = json.loads(path.read_text())
    return [c for c in data["testcases"] if c["validation_kind"] == "SERVER"]


def left_out(case: dict[str, Any]) -> str | None:
    """Why a case does not apply to the probe, or None when it is judged."""
    for feature in case.get("features") or ():
        if feature in LEFT_OUT_FEATURES:
            return f"feature {feature}"
    for prefix in LEFT_OUT_PREFIXES:
        if case["id"].startswith(prefix):
            return f"family {prefix.rstrip(':')}"
    if case.get("key_usage") or case.get("extended_key_usage") not in ([], ["serverAuth"]):
        return "customised usage"
    if case.get("signature_algorithms"):
        return "customised usage"
    return None


def reasons() -> dict[str, str]:
    table = {f"feature {k}": v for k, v in LEFT_OUT_FEATURES.items()}
    table |= {f"family {k.rstrip(':')}": v for k, v in LEFT_OUT_PREFIXES.items()}
    table["customised usage"] = CUSTOMISED
    return table


def judge(case: dict[str, Any], clock_now: datetime) -> Outcome:
    """Run analyse_chain on one case; an exception is an outcome, not a crash."""
    expected = case["expected_result"] == "SUCCESS"
    try:
        report = analyse(case, clock_now)
    except Exception as exc:  # the bench counts what the probe must never do
        return Outcome(case["id"], expected, None, f"{type(exc).__name__}: {exc}")
    detail = "; ".join(f"{p.code.value}: {p.message}" for p in report.problems) or "trusted"
    return Outcome(case["id"], expected, report.trusted, detail)


def analyse(case: dict[str, Any], clock_now: datetime) -> ChainReport:
    chain = [_der(case["peer_certificate"])]
    chain += [_der(pem) for pem in case["untrusted_intermediates"]]
    roots = []
    for pem in case["trusted_certs"]:
        try:
            with warnings.catch_warnings():  # roots with non-positive serials, as in stores
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                roots.append(x509.load_pem_x509_certificate(pem.encode()))
        except PARSE_ERRORS:
            continue  # a root the parser refuses is not loaded by TrustStore.load either
    peer = case.get("expected_peer_name") or {}
    host = peer.get("value") or ""
    when = case.get("validation_time")
    now = datetime.fromisoformat(when) if when else clock_now
    return analyse_chain(chain, host, TrustStore(roots), now=now)


def _der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.strip())


def run(
    cases: Iterable[dict[str, Any]], clock_now: datetime
) -> Iterator[tuple[Outcome, str | None]]:
    """For each case, its Outcome and the reason it is left out of the agreement (None when
    it counts). Left-out cases are judged too: no case may raise."""
    for case in cases:
        yield judge(case, clock_now), left_out(case)


def write_subset(cases: list[dict[str, Any]], out: Path) -> int:
    by_id = {c["id"]: c for c in cases}
    missing = [i for i in SUBSET_IDS if i not in by_id]
    if missing:
        print(f"not in this limbo.json: {', '.join(missing)}", file=sys.stderr)
        return 2
    subset = {"version": 1, "testcases": [by_id[i] for i in SUBSET_IDS]}
    out.write_text(json.dumps(subset, indent=1) + "\n")
    print(f"wrote {len(SUBSET_IDS)} cases to {out} ({out.stat().st_size // 1024} KiB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limbo", type=Path, required=True, help="a compiled limbo.json")
    parser.add_argument("--show", type=int, default=50, help="disagreements to list")
    parser.add_argument("--write-subset", type=Path, metavar="OUT", help="write SUBSET_IDS")
    args = parser.parse_args(argv)
    cases = load(args.limbo)
    if args.write_subset:
        return write_subset(cases, args.write_subset)
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    exceptions: list[Outcome] = []
    skipped: Counter[str] = Counter()
    for outcome, why in run(cases, system_clock()):
        if outcome.trusted is None:
            exceptions.append(outcome)
        if why is not None:
            skipped[why] += 1
        else:
            outcomes.append(outcome)
    elapsed = time.perf_counter() - started
    agreeing = sum(o.agrees for o in outcomes)
    share = 100.0 * agreeing / len(outcomes) if outcomes else 0.0
    print(f"SERVER cases:     {len(cases)}, every one judged in {elapsed:.1f} s")
    print(f"exceptions:       {len(exceptions)} (over all {len(cases)})")
    for o in exceptions[: args.show]:
        print(f"  {o.id}: {o.detail[:160]}")
    print(f"left out:         {sum(skipped.values())} (not applying to SMTP, below)")
    print(f"agreement:        {agreeing}/{len(outcomes)} = {share:.2f} %")
    print("left out, by family:")
    table = reasons()
    for key, count in sorted(skipped.items()):
        print(f"  {count:5d}  {key}: {table[key]}")
    wrong = [o for o in outcomes if not o.agrees]
    if wrong:
        print(f"disagreements ({len(wrong)}, first {min(len(wrong), args.show)}):")
        for o in wrong[: args.show]:
            want = "accept" if o.expected else "reject"
            print(f"  {o.id}: suite expects {want}; probe: {o.detail[:160]}")
    return 1 if exceptions or share < 99.5 else 0


if __name__ == "__main__":
    raise SystemExit(main())
