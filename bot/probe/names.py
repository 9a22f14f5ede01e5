"""Domain names, email addresses and route specs, checked and normalised.

Pure functions. Bad input raises :class:`InvalidName` (a ``ValueError``) whose
message is one sentence naming what was wrong; nothing here touches the network.
"""

from __future__ import annotations

import ipaddress
import re

import idna
from email_validator import EmailNotValidError, validate_email

MAX_DOMAIN_LENGTH = 253
_LDH = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")  # the one rule for a DNS label (fullmatch)


def is_host_name(value: str) -> bool:
    """A lower-case LDH host name of two labels or more, at most 253 characters: what an
    MX name must be wherever it is published (:mod:`bot.export.names` holds stored ones to it)."""
    labels = value.split(".")
    return (
        len(value) <= MAX_DOMAIN_LENGTH
        and len(labels) >= 2
        and all(_LDH.fullmatch(label) for label in labels)
    )


_PLAIN_IP = re.compile(r"^[0-9a-f.:]+$")  # what str(ip_address(...)) gives without a zone


class InvalidName(ValueError):
    """Input that is not a usable domain, address or route; ``str()`` says why."""


def normalise_domain(text: str) -> str:
    """Lower case, trailing dot removed, IDNA 2008 A-labels; at least two labels."""
    raw = text.strip()
    if not raw:
        raise InvalidName("empty domain")
    if len(raw) > 4 * MAX_DOMAIN_LENGTH:
        raise InvalidName(f"domain is too long ({len(raw)} characters)")
    if any(ch.isspace() for ch in raw):
        raise InvalidName(f"{_show(raw)} contains white space")
    name = raw[:-1] if raw.endswith(".") else raw
    if not name or name.startswith(".") or name.endswith(".") or ".." in name:
        raise InvalidName(f"{_show(raw)} has an empty label")
    if _is_ip_literal(name):
        raise InvalidName(f"{_show(raw)} is an IP address, not a domain")
    try:
        ascii_name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidName(f"{_show(raw)} is not a valid domain name: {exc}") from exc
    ascii_name = ascii_name.lower()
    if len(ascii_name) > MAX_DOMAIN_LENGTH:
        raise InvalidName(f"{_show(raw)} is longer than {MAX_DOMAIN_LENGTH} characters")
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise InvalidName(f"{_show(raw)} needs at least two labels (like example.com)")
    for label in labels:
        if not _LDH.fullmatch(label):
            raise InvalidName(f"{_show(raw)} has an invalid label {label!r}")
    if labels[-1].isdigit():
        raise InvalidName(f"{_show(raw)} has an all-numeric top-level label")
    return ascii_name


def parse_email(text: str) -> tuple[str, str]:
    """Return ``(address, domain)``: the address as given (trimmed), its normalised domain."""
    raw = text.strip()
    if len(raw) > 320:
        raise InvalidName("email address is longer than 320 characters")
    try:
        checked = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidName(f"{_show(raw)} is not a valid email address: {exc}") from exc
    domain = normalise_domain(checked.ascii_domain or checked.domain)
    return checked.normalized, domain


def email_for_domain(text: str, domain: str) -> str:
    """Check that an email address is valid and belongs to ``domain``; return it normalised."""
    address, address_domain = parse_email(text)
    wanted = normalise_domain(domain)
    if address_domain != wanted:
        raise InvalidName(f"{_show(text.strip())} is not an address at {wanted}")
    return address


def parse_route(text: str, default_port: int = 25) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[IPv6]:PORT`` or a bare IP; the host normalised.

    The host returned is a domain of ``[a-z0-9.-]`` (IDNA A-labels) or a plain IP
    literal, nothing else: it is shown in Slack and written into Postfix tables.
    """
    raw = text.strip()
    if not raw:
        raise InvalidName("empty route")
    host, port_text = raw, ""
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise InvalidName(f"{_show(raw)} has an unclosed '['")
        host, rest = raw[1:end], raw[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidName(f"{_show(raw)} is not HOST[:PORT]")
        port_text = rest[1:]
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    port = default_port
    if port_text:
        digits = port_text.isascii() and port_text.isdigit()  # not "٣", "²" or "1_0"
        if not digits or len(port_text) > 5 or not 0 < int(port_text) < 65536:
            raise InvalidName(f"{_show(raw)} has an invalid port {port_text!r}")
        port = int(port_text)
    if "%" in host:
        # ipaddress accepts an IPv6 zone ("fe80::1%eth0", RFC 4007), which names an
        # interface of *this* host: meaningless for a mail route, and any text can
        # follow the "%" (Slack mentions included).
        raise InvalidName(f"{_show(raw)} has a zone ID ('%…'); give a plain IP address")
    if _is_ip_literal(host):
        address = ipaddress.ip_address(host)
        if not _PLAIN_IP.match(str(address)):
            raise InvalidName(f"{_show(raw)} is not a plain IP address")
        return str(address), port
    return normalise_domain(host), port


def _is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _show(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")
