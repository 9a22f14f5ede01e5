"""TLS-RPT reports as real senders send them.

- :data:`RFC_EXAMPLE` is the example report of RFC 8460 (§4.8 / Appendix B, with
  erratum 6241: ``mx-host`` a list), company-x reporting about company-y.
- :func:`google_message` is a report in the format Google sends (seen in the
  wild: ``organization-name`` "Google Inc.", ``report-id`` "<start>_<domain>",
  ``contact-info`` smtp-tls-reporting@google.com, ``multipart/report;
  report-type=tlsrpt`` with an ``application/tlsrpt+gzip`` attachment named
  ``google.com!<domain>!<start>!<end>!001.json.gz``, base64).
- :func:`microsoft_message` is one in Microsoft's format (compact JSON,
  date-times *without* a zone, report-id "<number>+<domain>", no ``mx-host``, a
  ``Content-Description`` naming the file) — see mox's ``testdata/tlsreports``
  and its note on Microsoft's zone-less date-times.
- :func:`report` builds a report field by field.
"""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime
from email import encoders
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

RFC_EXAMPLE: dict[str, Any] = {
    "organization-name": "Company-X",
    "date-range": {
        "start-datetime": "2016-04-01T00:00:00Z",
        "end-datetime": "2016-04-01T23:59:59Z",
    },
    "contact-info": "sts-reporting@company-x.example",
    "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
    "policies": [
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": [
                    "version: STSv1",
                    "mode: testing",
                    "mx: *.mail.company-y.example",
                    "max_age: 86400",
                ],
                "policy-domain": "company-y.example",
                "mx-host": ["*.mail.company-y.example"],
            },
            "summary": {
                "total-successful-session-count": 5326,
                "total-failure-session-count": 303,
            },
            "failure-details": [
                {
                    "result-type": "certificate-expired",
                    "sending-mta-ip": "2001:db8:abcd:0012::1",
                    "receiving-mx-hostname": "mx1.mail.company-y.example",
                    "failed-session-count": 100,
                },
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "2001:db8:abcd:0013::1",
                    "receiving-mx-hostname": "mx2.mail.company-y.example",
                    "receiving-ip": "203.0.113.56",
                    "failed-session-count": 200,
                    "additional-information": "https://reports.company-x.example/"
                    "report_info?id=5065427c-23d3#StarttlsNotSupported",
                },
                {
                    "result-type": "validation-failure",
                    "sending-mta-ip": "198.51.100.62",
                    "receiving-ip": "203.0.113.58",
                    "receiving-mx-hostname": "mx-backup.mail.company-y.example",
                    "failed-session-count": 3,
                    "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED",
                },
            ],
        }
    ],
}


def rfc_example() -> dict[str, Any]:
    return copy.deepcopy(RFC_EXAMPLE)


def report(
    *,
    report_id: str = "built-1",
    organization: str = "Sender Org",
    start: str = "2026-12-04T00:00:00Z",
    end: str = "2026-12-04T23:59:59Z",
    domain: str = "company.test",
    mx: str = "mx1.company.test",
    ok: int = 100,
    failures: dict[str, int] | None = None,
) -> dict[str, Any]:
    failures = failures or {}
    return {
        "organization-name": organization,
        "date-range": {"start-datetime": start, "end-datetime": end},
        "contact-info": "tls-reports@sender.test",
        "report-id": report_id,
        "policies": [
            {
                "policy": {"policy-type": "sts", "policy-domain": domain, "mx-host": [mx]},
                "summary": {
                    "total-successful-session-count": ok,
                    "total-failure-session-count": sum(failures.values()),
                },
                "failure-details": [
                    {
                        "result-type": kind,
                        "sending-mta-ip": "198.51.100.7",
                        "receiving-mx-hostname": mx,
                        "receiving-ip": "192.0.2.25",
                        "failed-session-count": n,
                    }
                    for kind, n in failures.items()
                ],
            }
        ],
    }


def _multipart_report(
    headers: dict[str, str],
    text: str,
    payload: bytes,
    subtype: str,
    filename: str,
    *,
    description: str | None = None,
    base64: bool = True,
) -> bytes:
    """``multipart/report; report-type=tlsrpt``: a text part, then the report (RFC 8460 §5.3)."""
    message = MIMEMultipart("report", report_type="tlsrpt")
    for name, value in headers.items():
        message[name] = value
    message.attach(MIMEText(text, "plain", "us-ascii"))
    part = MIMEApplication(
        payload, subtype, _encoder=encoders.encode_base64 if base64 else encoders.encode_7or8bit
    )
    part.add_header("Content-Disposition", "attachment", filename=filename)
    if description:
        part["Content-Description"] = description
    message.attach(part)
    return message.as_bytes()


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def google_report(domain: str = "company.test", day: str = "2026-12-04") -> dict[str, Any]:
    start, end = f"{day}T00:00:00Z", f"{day}T23:59:59Z"
    return {
        "organization-name": "Google Inc.",
        "date-range": {"start-datetime": start, "end-datetime": end},
        "contact-info": "smtp-tls-reporting@google.com",
        "report-id": f"{start}_{domain}",
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": [
                        "version: STSv1",
                        "mode: enforce",
                        f"mx: mx1.{domain}",
                        f"mx: mx2.{domain}",
                        "max_age: 604800",
                    ],
                    "policy-domain": domain,
                    "mx-host": [f"mx1.{domain}", f"mx2.{domain}"],
                },
                "summary": {
                    "total-successful-session-count": 773,
                    "total-failure-session-count": 12,
                },
                "failure-details": [
                    {
                        "result-type": "certificate-expired",
                        "sending-mta-ip": "209.85.220.41",
                        "receiving-mx-hostname": f"mx2.{domain}",
                        "receiving-ip": "192.0.2.26",
                        "failed-session-count": 12,
                    }
                ],
            }
        ],
    }


def google_message(
    domain: str = "company.test", day: str = "2026-12-04", body: dict[str, Any] | None = None
) -> bytes:
    body = body or google_report(domain, day)
    start, end = body["date-range"]["start-datetime"], body["date-range"]["end-datetime"]
    headers = {
        "From": "noreply-smtp-tls-reporting@google.com",
        "To": f"tlsrpt@{domain}",
        "Subject": f"Report Domain: {domain} Submitter: google.com "
        f"Report-ID: <{day}T00.00.00Z+{domain}@google.com>",
        "TLS-Report-Domain": domain,
        "TLS-Report-Submitter": "google.com",
    }
    name = f"google.com!{domain}!{_epoch(start[:-1])}!{_epoch(end[:-1])}!001.json.gz"
    return _multipart_report(
        headers,
        "This is an aggregate TLS report from google.com\n",
        gzip.compress(json.dumps(body).encode()),
        "tlsrpt+gzip",
        name,
    )


def microsoft_report(domain: str = "company.test", day: str = "2026-12-04") -> dict[str, Any]:
    return {
        "organization-name": "Microsoft Corporation",
        "date-range": {"start-datetime": f"{day}T00:00:00", "end-datetime": f"{day}T23:59:59"},
        "contact-info": "tlsrpt-noreply@microsoft.com",
        "report-id": f"133198585438131172+{domain}",
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": [
                        "version: STSv1",
                        "mode: enforce",
                        f"mx: mx1.{domain}",
                        "max_age: 86400",
                    ],
                    "policy-domain": domain,
                },
                "summary": {
                    "total-successful-session-count": 2,
                    "total-failure-session-count": 0,
                },
            }
        ],
    }


def microsoft_message(domain: str = "company.test", day: str = "2026-12-04") -> bytes:
    body = microsoft_report(domain, day)
    start = _epoch(f"{day}T00:00:00")
    name = f"microsoft.com!{domain}!{start}!{start + 86399}!133198585438131172.json.gz"
    headers = {
        "From": "<tlsrpt-noreply@microsoft.com>",
        "To": f'"tlsrpt@{domain}" <tlsrpt@{domain}>',
        "Subject": f"Report Domain: {domain} Submitter: microsoft.com "
        f"Report-ID: 133198585438131172+{domain}",
        "TLS-Report-Domain": domain,
        "TLS-Report-Submitter": "microsoft.com",
    }
    compact = json.dumps(body, separators=(",", ":")).encode()
    return _multipart_report(
        headers,
        "This is an aggregate TLS report from microsoft.com\n",
        gzip.compress(compact),
        "tlsrpt+gzip",
        name,
        description=name,
    )


def rfc_message() -> bytes:
    """The RFC 8460 §5.3 example message shape, the report as an 8bit JSON part."""
    headers = {
        "From": "tlsrpt@mail.sender.example.com",
        "To": "mts-sts-tlsrpt@example.net",
        "Subject": "Report Domain: example.net",
        "TLS-Report-Domain": "example.net",
        "TLS-Report-Submitter": "mail.sender.example.com",
    }
    return _multipart_report(
        headers,
        "This is an aggregate TLS report from mail.sender.example.com\n",
        json.dumps(RFC_EXAMPLE, indent=2).encode(),
        "tlsrpt+json",
        "mail.sender.example!example.com!1013662812!1013749130.json",
        base64=False,
    )
