"""MTA-STS parser vectors: other implementations' test inputs, and RFC 8461's grammar.

Only inputs and verdicts are taken from the sources, as data; no code is copied. Each
vector's ``expect`` is what RFC 8461 says (§3.1 TXT record, §3.2 policy, §3.3 Content-Type,
§4.1 mx matching). Where the source's own implementation decided otherwise, ``theirs``
says what it did, so the table shows exactly where tlsbot parts from a peer.

Sources (repository, file, commit read, licence):

- ``pmsr``: Snawoot/postfix-mta-sts-resolver ``tests/test_utils.py`` (a000619, MIT)
- ``mox``: mjl-/mox ``mtasts/parse_test.go`` (1c95876, MIT)
- ``go-mtasts``: foxcpp/go-mtasts ``mtasts_test.go`` (1438da2, MIT), the MTA-STS code of maddy
- ``chasquid``: albertito/chasquid ``internal/sts/sts_test.go`` (ca2538b, Apache-2.0)
- ``stalwart``: stalwartlabs/mail-auth ``src/mta_sts/parse.rs`` tests (Apache-2.0 OR MIT) and
  stalwartlabs/mail-server ``tests/src/smtp/outbound/mta_sts.rs`` (AGPL-3.0; inputs only)
- ``checkdmarc``: domainaware/checkdmarc ``tests/test_mta_sts.py`` (d4866ca, Apache-2.0)
- ``mimecast``: mimecast/mta-sts ``src/test/java/com/mimecast/mtasts/assets/StsRecordTest.java``
  and ``StsPolicyTest.java`` (518d7a6, Apache-2.0)
- ``rfc``: cases written for tlsbot from RFC 8461's ABNF (and the bugs of issue 15)

``expect`` values: TXT -- ``valid`` (the id is given), ``invalid``, ``none`` (not an MTA-STS
record: senders act as if there were no policy), ``lenient`` (valid, with a
``sts-policy-nonstandard`` warning); policy -- ``valid``, ``invalid``, ``lenient``; match and
Content-Type -- ``True`` / ``False``; a match whose pattern the policy grammar refuses is
``invalid``.
"""

from __future__ import annotations

from dataclasses import dataclass

POLICY_HEAD = "version: STSv1\nmode: enforce\nmax_age: 86400\n"


@dataclass(frozen=True)
class Txt:
    source: str
    records: tuple[str, ...]
    expect: str  # valid / invalid / none / lenient
    id: str | None = None
    theirs: str = ""


@dataclass(frozen=True)
class Policy:
    source: str
    text: str
    expect: str  # valid / invalid / lenient
    mode: str | None = None
    mx: tuple[str, ...] | None = None
    max_age: int | None = None
    theirs: str = ""


@dataclass(frozen=True)
class Match:
    source: str
    host: str
    patterns: tuple[str, ...]
    expect: bool | str  # True / False / "invalid" (a pattern the grammar refuses)
    theirs: str = ""


@dataclass(frozen=True)
class ContentType:
    source: str
    value: str | None
    expect: bool


def txt(source: str, record: str | tuple[str, ...], expect: str, **kw: str) -> Txt:
    return Txt(source, (record,) if isinstance(record, str) else record, expect, **kw)


TXT = [
    # postfix-mta-sts-resolver
    txt("pmsr", "v=STSv1; id=20160831085700Z;", "valid", id="20160831085700Z"),
    txt("pmsr", "v=STSv1;id=20160831085700Z;", "valid", id="20160831085700Z"),
    txt("pmsr", "v=STSv1; id=20160831085700Z", "valid", id="20160831085700Z"),
    txt("pmsr", "v=STSv1;id=20160831085700Z", "valid", id="20160831085700Z"),
    txt("pmsr", "v=STSv1;        id=20160831085700Z   ", "valid", id="20160831085700Z"),
    txt("pmsr", "", "none"),
    txt("pmsr", "   ", "none"),
    txt("pmsr", " ;   ;  ", "none"),
    txt(
        "pmsr", "v=STSv1; id=20160831085700Z;;;", "lenient", id="20160831085700Z", theirs="accepted"
    ),
    # mox
    txt("mox", "v=STSv1; id=20160831085700Z;", "valid", id="20160831085700Z"),
    txt("mox", "v=STSv1; \t id=20160831085700Z  \t;", "valid", id="20160831085700Z"),
    txt("mox", "v=STSv1; id=a", "valid", id="a"),
    txt("mox", "v=STSv1; id=a; more=a; ext=2", "valid", id="a"),
    txt("mox", "v=STSv0", "none", theirs="invalid"),
    txt("mox", "v=STSv10", "none", theirs="invalid"),
    txt("mox", "v=STSv2", "none", theirs="invalid"),
    txt("mox", "v=STSv1", "invalid"),
    txt("mox", "v=STSv1;", "invalid"),
    txt("mox", "v=STSv1; ext=1", "invalid"),
    txt("mox", "v=STSv1; id=", "invalid"),
    txt("mox", "v=STSv1; id=012345678901234567890123456789012", "invalid"),
    txt("mox", "v=STSv1; id=test-123", "invalid"),
    txt("mox", "v=STSv1; id=a; more=", "invalid"),
    txt("mox", "v=STSv1; id=a; a12345678901234567890123456789012=1", "invalid"),
    txt("mox", "v=STSv1; id=a; 1%=a", "invalid"),
    txt("mox", "v=STSv1; id=a; test==", "invalid"),
    txt("mox", "v=STSv1; id=a;;", "lenient", id="a", theirs="invalid"),
    # go-mtasts
    txt("go-mtasts", "", "none"),
    txt("go-mtasts", "v=STSv1", "invalid"),
    txt("go-mtasts", "id=foo", "none"),
    txt("go-mtasts", "unrelated=foo", "none"),
    txt("go-mtasts", "syntax error", "none"),
    txt("go-mtasts", "v=STSv2;id=foo;include=foo.com", "none"),
    txt("go-mtasts", "v=STSv1;    id=foo include=foo.com", "invalid"),
    txt("go-mtasts", "v=STSv1;    id=foo include", "invalid"),
    txt("go-mtasts", "v=STSv1  ;    id=foo", "valid", id="foo"),
    txt("go-mtasts", "v=STSv1  ;    id=foo; unrelated=1", "valid", id="foo"),
    # chasquid
    txt("chasquid", "v=STSv1; id=blah;", "valid", id="blah"),
    txt("chasquid", ("abc", "def"), "none"),
    txt("chasquid", ("abc", "v=STSv1; id=blah;"), "valid", id="blah"),
    # Stalwart
    txt("stalwart", "v=STSv1; id=20160831085700Z;", "valid", id="20160831085700Z"),
    txt("stalwart", "v=STSv1; id=20190429T010101", "valid", id="20190429T010101"),
    txt("stalwart", "v=STSv1; id=policy_will_fail;", "invalid", theirs="accepted"),
    txt("stalwart", "v=STSv1; id=policy_will_work;", "invalid", theirs="accepted"),
    # checkdmarc
    txt("checkdmarc", "v=STSv1; id=20240101T010101", "valid", id="20240101T010101"),
    txt("checkdmarc", "v=STSv1; xyz=foo", "invalid"),
    txt("checkdmarc", "v=spf1 -all", "none"),
    txt(
        "checkdmarc",
        "v=STSv1; id=foo; id=bar",
        "valid",
        id="foo",
        theirs="invalid (duplicate tag); RFC 8461 §3.2: the first counts",
    ),
    # Mimecast
    txt("mimecast", "v=STSv1; id=19840507T234501;", "valid", id="19840507T234501"),
    txt("mimecast", "v=STSv1;", "invalid"),
    txt("mimecast", "", "none"),
    txt("mimecast", "id=19840507T234501;", "none"),
    txt("mimecast", "v=STSv;", "none"),
    txt("mimecast", "v-STSv1 id=19840507T234501", "none"),
    txt("mimecast", "v=STSv1 id=", "none", theirs="invalid"),
    txt("mimecast", "v=STSv2; id=19840507T234501;", "none"),
    txt(
        "mimecast",
        '"v=STSv1; id=19840507T234501;"',
        "none",
        theirs="valid (quotes stripped); quotes inside a TXT string are data",
    ),
    # RFC 8461 §3.1 grammar
    txt("rfc", "v=STSv1;;id=a", "lenient", id="a"),
    txt("rfc", "v=STSv1 ; id=a", "valid", id="a"),
    txt("rfc", "v=STSv1;\tid=a\t;\t", "valid", id="a"),
    txt("rfc", "v=STSv1; id=" + "a" * 32, "valid", id="a" * 32),
    txt("rfc", "v=STSv1; id=a; ext:=1", "invalid"),
    txt("rfc", "v=STSv1; id=a; x=caf\u00e9", "invalid"),
    txt("rfc", "v=STSv1; id=a; more=a b", "invalid"),
    txt("rfc", "v=STSv1; id=\uff11", "invalid"),
    txt("rfc", "v=STSv1; id=\u0663", "invalid"),
    txt("rfc", "V=STSv1; id=a", "none"),
    txt("rfc", "v=STSv1x; id=a", "none"),
    txt("rfc", ("v=STSv1; id=1", "v=STSv1; id=2"), "invalid"),
    txt("rfc", ("v=spf1 -all", "v=STSv1; id=a"), "valid", id="a"),
    txt("rfc", "v=STSv1; id=a; a.b-c_d=x", "valid", id="a"),
    txt("rfc", "v=STSv1; id=a; _x=1", "invalid"),
    txt("rfc", "v=STSv1; id=a\x00", "invalid"),
    txt("rfc", "v=STSv1; junk", "invalid"),
]


def policy(source: str, text: str, expect: str, **kw: object) -> Policy:
    return Policy(source, text, expect, **kw)  # type: ignore[arg-type]


MIMECAST_MX = ("service-alpha-inbound-a.mimecast.com", "service-alpha-inbound-b.mimecast.com")

POLICIES = [
    # mox
    policy(
        "mox",
        "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\n"
        "mx: mx.backup-example.com\nmax_age: 1296000\n",
        "valid",
        mode="testing",
        mx=("mx1.example.com", "mx2.example.com", "mx.backup-example.com"),
        max_age=1296000,
    ),
    policy(
        "mox",
        "version: STSv1\nmode: enforce\t\nmx: *.example.com \nmax_age: 0 \n",
        "valid",
        mode="enforce",
        mx=("*.example.com",),
        max_age=0,
    ),
    policy(
        "mox",
        "version:STSv1\r\nmode:\tenforce\r\nmx:  \t\t *.example.com\nmax_age: 1\n"
        "more:ext e  ns ion",
        "valid",
        mode="enforce",
        mx=("*.example.com",),
        max_age=1,
    ),
    policy("mox", "", "invalid"),
    policy("mox", "version:STSv0\nmode:none\nmax_age:0", "invalid"),
    policy("mox", "version:STSv10\nmode:none\nmax_age:0", "invalid"),
    policy("mox", "version:STSv2\nmode:none\nmax_age:0", "invalid"),
    policy("mox", "version:STSv1\nmax_age:0\nmx:example.com", "invalid"),
    policy("mox", "version:STSv1\nmode:none", "invalid"),
    policy("mox", "version:STSv1\nmax_age:0\nmode:enforce", "invalid"),
    policy("mox", "version:STSv1\nmax_age:0\nmode:testing", "invalid"),
    policy("mox", "max_age:0\nmode:none", "invalid"),
    policy("mox", "version:STSv1\nmode:none\nmax_age:01234567890", "invalid"),
    policy("mox", "version:STSv1\nmode:bad\nmax_age:1", "invalid"),
    policy("mox", "version:STSv1\nmode:none\nmax_age:a", "invalid"),
    policy("mox", "version:STSv1\nmode:enforce\nmax_age:0\nmx:", "invalid"),
    policy("mox", "version:STSv1\nmode:enforce\nmax_age:0\nmx:*.*.example", "invalid"),
    policy("mox", "version:STSv1\nmode:enforce\nmax_age:0\nmx:**.example", "invalid"),
    policy("mox", "version:STSv1\nmode:enforce\nmax_age:0\nmx:**.example-", "invalid"),
    policy("mox", "version:STSv1\nmode:enforce\nmax_age:0\nmx:test.example-", "invalid"),
    policy("mox", "version:STSv1\nmode:none\nmax_age:0\next:", "invalid"),
    policy(
        "mox",
        "version:STSv1\nmode:none\nmax_age:0\na12345678901234567890123456789012:123",
        "invalid",
    ),
    policy("mox", "version:STSv1\nmode:none\nmax_age:0\n_bad:test", "invalid"),
    policy("mox", "version:STSv1\nmode:none\nmax_age:0\nmx: m\u00f8x.example", "invalid"),
    # go-mtasts
    policy("go-mtasts", "version: STSv2", "invalid"),
    policy("go-mtasts", "version: STSv1", "invalid"),
    policy("go-mtasts", "max_age: 8600", "invalid"),
    policy("go-mtasts", "version: STSv1\nmax_age: 8600", "invalid"),
    policy("go-mtasts", "version: STSv1\nmax_age:", "invalid"),
    policy("go-mtasts", "version: STSv1\n: 8600", "invalid"),
    policy("go-mtasts", "version: STSv1\nmode: invalid_value", "invalid"),
    policy("go-mtasts", "version: STSv1\nmode none", "invalid"),
    policy("go-mtasts", "version: STSv1\nmode: none", "invalid"),
    policy(
        "go-mtasts",
        "version: STSv1\nmax_age: 8600\nmode:none",
        "valid",
        mode="none",
        mx=(),
        max_age=8600,
    ),
    policy("go-mtasts", "version: STSv1\nmax_age: 8600\nmode: enforce", "invalid"),
    policy(
        "go-mtasts",
        "version: STSv1\nmax_age: 8600\nmode: enforce\nmx: mx0.example.org\nmx: *.example.org",
        "valid",
        mode="enforce",
        mx=("mx0.example.org", "*.example.org"),
        max_age=8600,
    ),
    # chasquid
    policy(
        "chasquid",
        "\n  version: STSv1\n  mode: enforce\n  mx: *.mail.example.com\n  max_age: 123456\n",
        "lenient",
        mode="enforce",
        mx=("*.mail.example.com",),
        max_age=123456,
        theirs="accepted silently",
    ),
    policy(
        "chasquid",
        "\n             version: STSv1\n             mode: enforce\n"
        "             mx: *.mail.domain.com\n             max_age: 3600\n        \n",
        "lenient",
        mode="enforce",
        max_age=3600,
        theirs="accepted silently",
    ),
    policy(
        "chasquid",
        "\n             version: STSv99\n             mode: enforce\n"
        "             mx: *.mail.version99\n             max_age: 999\n        \n",
        "invalid",
    ),
    policy(
        "chasquid",
        "version: STSv1\nmode: enforce\nmax_age: 3600\nmx: mx1\nmx: mx2\n",
        "valid",
        mx=("mx1", "mx2"),
        theirs="rejected by tlsbot before: single-label mx",
    ),
    policy("chasquid", "version: STSv1\nmode: testing\nmax_age: 3600\nmx: mx1\n", "valid"),
    policy("chasquid", "version: STSv1\nmode: none\nmax_age: 3600\nmx: mx1\n", "valid"),
    policy(
        "chasquid",
        "version: STSv1\nmode: none\nmax_age: 31557600\nmx: mx1\n",
        "valid",
        max_age=31557600,
    ),
    policy("chasquid", "version: STSv2\n", "invalid"),
    policy("chasquid", "version: STSv1\n", "invalid"),
    policy("chasquid", "version: STSv1\nmax_age: 31557601\n", "invalid"),
    policy("chasquid", "version: STSv1\nmax_age: 1\nmode: blah\n", "invalid"),
    policy("chasquid", "version: STSv1\nmax_age: 1\nmode: enforce\n", "invalid"),
    # Stalwart
    policy(
        "stalwart",
        "version: STSv1\nmode: enforce\nmx: mail.foobar.net\nmax_age: 604800\n",
        "valid",
        mx=("mail.foobar.net",),
    ),
    policy(
        "stalwart",
        "version: STSv1\nmode: enforce\nmx: *.foobar.org\nmax_age: 604800\n",
        "valid",
        mx=("*.foobar.org",),
    ),
    # checkdmarc
    policy(
        "checkdmarc",
        "version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\nmx: mail.example.com\r\n",
        "valid",
        mode="enforce",
        mx=("mail.example.com",),
        max_age=86400,
    ),
    policy(
        "checkdmarc",
        "version: STSv1\nmode: testing\nmax_age: 3600\nmx: *.example.com\n",
        "valid",
        mode="testing",
    ),
    policy("checkdmarc", "version: STSv1\r\nmode: enforce\r\n", "invalid"),
    policy(
        "checkdmarc",
        "version: STSv1\r\nmode: enforce\r\nmax_age: -1\r\nmx: mail.example.com\r\n",
        "invalid",
    ),
    policy(
        "checkdmarc",
        "version: STSv1\r\nmode: enforce\r\nmax_age: 86400.5\r\nmx: mail.example.com\r\n",
        "invalid",
    ),
    policy(
        "checkdmarc",
        "version: STSv1\r\nmode: enforce\r\nmax_age: 99999999\r\nmx: mail.example.com\r\n",
        "invalid",
    ),
    policy(
        "checkdmarc",
        "version: STSv1\r\nmode: enforce\r\nmax_age: abc\r\nmx: mail.example.com\r\n",
        "invalid",
    ),
    policy(
        "checkdmarc",
        "version: STSv1\r\nmode: enforce\r\nmode: testing\r\nmax_age: 86400\r\n"
        "mx: mail.example.com\r\n",
        "valid",
        mode="enforce",
        theirs="invalid (duplicate key); RFC 8461 §3.2: the first counts",
    ),
    policy(
        "checkdmarc",
        "version: STSv2\r\nmode: enforce\r\nmax_age: 86400\r\nmx: mail.example.com\r\n",
        "invalid",
    ),
    policy(
        "checkdmarc",
        "version: STSv1\r\nmode: invalid\r\nmax_age: 86400\r\nmx: mail.example.com\r\n",
        "invalid",
    ),
    policy("checkdmarc", "version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\n", "invalid"),
    policy("checkdmarc", "version: STSv1\r\nnot_a_pair\r\n", "invalid"),
    policy(
        "checkdmarc",
        "version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\nmx: mail.example.com\r\n"
        "badkey: badvalue\r\n",
        "valid",
        theirs="invalid (unknown key); RFC 8461 §3.2: unknown fields are ignored",
    ),
    # Mimecast
    policy(
        "mimecast",
        "version: STSv1\r\nmode: enforce\r\nmx: service-alpha-inbound-a.mimecast.com\r\n"
        "mx: service-alpha-inbound-b.mimecast.com\r\nmax_age: 604800\r\n",
        "valid",
        mode="enforce",
        mx=MIMECAST_MX,
        max_age=604800,
    ),
    policy(
        "mimecast",
        "version: STSv1\r\nmode: testing\r\nmx: *.mimecast.com\r\nmax_age: 604800\r\n",
        "valid",
        mode="testing",
    ),
    policy(
        "mimecast",
        "version: STSv1\r\nmode: enforce\r\nmx: service-alpha-inbound-*.mimecast.com\r\n"
        "max_age: 604800\r\n",
        "invalid",
    ),
    policy(
        "mimecast",
        "version: STSv1\r\nmode: pretend\r\nmx: *.mimecast.com\r\nmax_age: 604800\r\n"
        "min_age: 300\r\n",
        "invalid",
    ),
    policy(
        "mimecast",
        "version: STSv1\r\nmode none\r\nmx: *.mimecast.com\r\nmax_age: 604800\r\n",
        "invalid",
    ),
    policy(
        "mimecast",
        "version: STSv1\r\nmode: enforce\r\nmx: *.mimecast.com\r\nmax_age:\r\n",
        "invalid",
        theirs="accepted with a warning (max_age 0)",
    ),
    policy(
        "mimecast",
        "version: STSv1\r\nmode: none\r\nmx: *.mimecast.com\r\nmax_age: 604800\r\n",
        "valid",
        mode="none",
        theirs="not valid for delivery (mode none)",
    ),
    policy(
        "mimecast",
        "version: STSv1\r\nmode: enforce\r\nmode: testing\r\nmode: none\r\n"
        "mx: gmail-smtp-in.l.google.com\r\nmx: *.gmail-smtp-in.l.google.com\r\n"
        "max_age: 604800\r\n",
        "valid",
        mode="enforce",
    ),
    policy(
        "mimecast",
        "version: STSv1\r\nmode: testing\r\nmode: enforced\r\n"
        "mx: gmail-smtp-in.l.google.com\r\nmx: *.gmail-smtp-in.l.google.com\r\n"
        "max_age: 604800\r\n",
        "valid",
        mode="testing",
    ),
    # RFC 8461 §3.2 grammar, and the bugs of issue 15
    policy("rfc", POLICY_HEAD.replace("86400", "\u00b2") + "mx: a.test\n", "invalid"),
    policy("rfc", POLICY_HEAD.replace("86400", "\u0663") + "mx: a.test\n", "invalid"),
    policy("rfc", POLICY_HEAD.replace("86400", "\uff13\uff10") + "mx: a.test\n", "invalid"),
    policy("rfc", POLICY_HEAD.replace("86400", "+5") + "mx: a.test\n", "invalid"),
    policy("rfc", POLICY_HEAD.replace("86400", "0000000001") + "mx: a.test\n", "valid", max_age=1),
    policy("rfc", POLICY_HEAD.replace("86400", "31557601") + "mx: a.test\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: mx1\n", "valid", mx=("mx1",)),
    policy("rfc", POLICY_HEAD + "mx: mx-.example.com\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: -mx.example.com\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: mx.example-\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: *\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: *.\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: mx..example.com\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: mx.example.com.\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: mx_1.example.com\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: MX.Example.COM\n", "valid", mx=("mx.example.com",)),
    policy("rfc", POLICY_HEAD + "mx: " + "a" * 64 + ".com\n", "invalid"),
    policy("rfc", POLICY_HEAD + "mx: " + "a" * 63 + ".com\n", "valid"),
    policy("rfc", POLICY_HEAD + "mx: xn--aca-6ma.com\n", "valid", mx=("xn--aca-6ma.com",)),
    policy("rfc", POLICY_HEAD + "mx: *.com\n", "valid", mx=("*.com",)),
    policy("rfc", POLICY_HEAD + "mx: mx.example.com mx2.example.com\n", "invalid"),
    policy(
        "rfc",
        "version: STSv1\nmode: enforce\u2028mx: evil.example\nmx: a.test\nmax_age: 1\n",
        "invalid",
    ),
    policy(
        "rfc",
        "version: STSv1\nmode: enforce\u0085mx: evil.example\nmx: a.test\nmax_age: 1\n",
        "invalid",
    ),
    policy("rfc", "version: STSv1\rmode: none\nmax_age: 1\n", "invalid"),
    policy("rfc", "version: STSv1\nmode: none\nmax_age: 1\next: a\u2028b\n", "valid", mode="none"),
    policy("rfc", "version: STSv1\nmode: none \t\nmax_age: 1", "valid", mode="none"),
    policy("rfc", "version: STSv1\n\nmode: none\nmax_age: 1\n", "lenient", mode="none"),
    policy("rfc", "version: STSv1\r\nmode: none\r\nmax_age: 1\r\n\r\n", "lenient"),
    policy("rfc", "version: STSv1\n mode: none\nmax_age: 1\n", "lenient", mode="none"),
    policy("rfc", "version: STSv1\nmode : none\nmax_age: 1\n", "lenient", mode="none"),
    policy("rfc", "version: STSv1\nmode: none\nmax_age: 1\nfuture_ext: some value\n", "valid"),
    policy("rfc", "version: STSv1\nmode: none\nmax_age: 1\next: a\tb\n", "invalid"),
    policy("rfc", "version: STSv1\nmode: none\nmax_age: 1\ncaf\u00e9: x\n", "invalid"),
    policy("rfc", "version: STSv1\nmode: none\nmax_age: 1\next: caf\u00e9\n", "valid"),
    policy("rfc", "version: STSv1\nmode: none\nmax_age: 1\n" + "e" * 32 + ": x\n", "valid"),
    policy("rfc", "version: STSv1\nversion: STSv2\nmode: none\nmax_age: 1\n", "valid"),
    policy("rfc", "version: STSv1\nmode: none\nmax_age: 1\nmax_age: 2\n", "valid", max_age=1),
    policy("rfc", "Version: STSv1\nmode: none\nmax_age: 1\n", "invalid"),
    policy("rfc", "version: STSv1\nmode: Enforce\nmx: a.test\nmax_age: 1\n", "invalid"),
    policy("rfc", "\ufeffversion: STSv1\nmode: none\nmax_age: 1\n", "invalid"),
    policy("rfc", "version: STSv1\x00\nmode: none\nmax_age: 1\n", "invalid"),
    policy("rfc", "<html><body>hello</body></html>", "invalid"),
    policy(
        "rfc",
        "version: STSv1\nmode: none\nmax_age: 1\nmx: a.test\nmx: a.test\n",
        "valid",
        mx=("a.test",),
    ),
]

MATCHES = [
    # go-mtasts (host names given as A-labels or normalised first, as the prober does)
    Match("go-mtasts", "example.org.", ("example.org",), True),
    Match("go-mtasts", "example.org", ("example.org",), True),
    Match("go-mtasts", "mx0.example.org", ("special.example.org", "*.example.org"), True),
    Match("go-mtasts", "without-dots", ("*.example.org",), False),
    Match("go-mtasts", "special.example.org", ("special.example.org", "*.example.org"), True),
    Match("go-mtasts", "mx0.special.example.org", ("special.example.org", "*.example.org"), False),
    Match("go-mtasts", "mx0.special.example.org", ("*.special.example.org", "*.example.org"), True),
    Match("go-mtasts", "unrelated.org", ("*.example.org",), False),
    Match("go-mtasts", "x.\u00f1aca.com", ("x.xn--aca-6ma.com",), True),
    Match("go-mtasts", "x.naca.com", ("x.xn--aca-6ma.com",), False),
    Match("go-mtasts", "example.org", ("xn-9999999999a.org",), False),
    Match(
        "go-mtasts",
        "\u00f1aca.com",
        ("\u00f1aca.com",),
        "invalid",
        theirs="matched (U-label pattern); RFC 8461 patterns are LDH names",
    ),
    # chasquid
    Match("chasquid", "lalala", ("lalala",), True),
    Match("chasquid", "a.b.", ("a.b",), True),
    Match("chasquid", "a.b", ("a.b.",), "invalid", theirs="matched (trailing dot in pattern)"),
    Match("chasquid", "abc.com", ("*.com",), True),
    Match("chasquid", "abc.com", ("abc.*.com",), "invalid"),
    Match("chasquid", "abc.com", ("x.abc.com",), False),
    Match("chasquid", "x.abc.com", ("*.*.com",), "invalid"),
    Match("chasquid", "abc.def.com", ("abc.*.com",), "invalid"),
    Match("chasquid", "mail.example.com", ("*.example.com",), True),
    Match("chasquid", "example.com", ("*.example.com",), False),
    Match("chasquid", "foo.bar.example.com", ("*.example.com",), False),
    Match("chasquid", "aa.b.cc.com", (".aa.b.cc.com",), "invalid"),
    Match("chasquid", "zz.aa.b.cc.com", (".aa.b.cc.com",), "invalid"),
    Match("chasquid", "zz.aa.b.cc.com", ("*.aa.b.cc.com",), True),
    # checkdmarc
    Match("checkdmarc", "mail.example.com", ("mail.example.com",), True),
    Match("checkdmarc", "mail.example.com", ("*.example.com",), True),
    Match("checkdmarc", "mail.other.com", ("*.example.com",), False),
    # Mimecast
    Match("mimecast", MIMECAST_MX[0], MIMECAST_MX, True),
    Match("mimecast", "mimecast.net", MIMECAST_MX, False),
    Match("mimecast", "service-alpha-inbound-a.mimecast.com", ("*.mimecast.com",), True),
    # Stalwart
    Match("stalwart", "mx.foobar.org", ("mail.foobar.net",), False),
    Match("stalwart", "mx.foobar.org", ("*.foobar.org",), True),
    # RFC 8461 §4.1
    Match("rfc", "MX.Example.COM", ("mx.example.com",), True),
    Match("rfc", "a.b.example.com", ("*.b.example.com",), True),
    Match("rfc", "b.example.com", ("*.b.example.com",), False),
]

CONTENT_TYPES = [
    # postfix-mta-sts-resolver
    ContentType("pmsr", "text/plain", True),
    ContentType("pmsr", "TEXT/PLAIN", True),
    ContentType("pmsr", "TeXT/PlAiN", True),
    ContentType("pmsr", "text/plain;charset=utf-8", True),
    ContentType("pmsr", "text/plain;charset=UTF-8", True),
    ContentType("pmsr", "text/plain; charset=UTF-8", True),
    ContentType("pmsr", "text/plain ; charset=UTF-8", True),
    ContentType("pmsr", "application/octet-stream", False),
    ContentType("pmsr", "application/octet-stream+text/plain", False),
    ContentType("pmsr", "application/json+text/plain", False),
    ContentType("pmsr", "text/plain+", False),
    # checkdmarc
    ContentType("checkdmarc", "text/html", False),
    ContentType("checkdmarc", None, False),
    # RFC 8461 §3.3
    ContentType("rfc", "", False),
    ContentType("rfc", "text/plain\t; charset=utf-8", True),
    ContentType("rfc", "text/plainx", False),
    ContentType("rfc", "text/*", False),
]

SOURCES = ("pmsr", "mox", "go-mtasts", "chasquid", "stalwart", "checkdmarc", "mimecast", "rfc")
