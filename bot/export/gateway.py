"""The gateways tlsbot can enforce on, by name, and what a gateway adapter offers.

:class:`GatewayName` is the one list of names (``TLSBOT_GATEWAYS`` is checked
against it); :data:`bot.export.registry.GATEWAYS` maps each name to its
:class:`Gateway`, and a test checks the two agree. This module imports nothing
heavy, so settings can check names without loading any gateway.

A gateway is reached in one of three ways (:class:`Reach`):

* ``tables`` — tlsbot publishes it itself, as files or a live lookup (Postfix);
* ``api`` — tlsbot applies every change itself through the gateway's API (Mimecast);
* ``handover`` — tlsbot writes an exact file (a script, a change sheet) that a
  gateway admin applies, and records when they did (Exchange Online, Google Workspace).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.export.names import Enforcement


class GatewayName(enum.StrEnum):
    POSTFIX = "postfix"
    MIMECAST = "mimecast"
    EXCHANGE = "exchange"
    GOOGLE = "google"


class Reach(enum.StrEnum):
    TABLES = "tables"
    API = "api"
    HANDOVER = "handover"


@dataclass(frozen=True)
class Stamp:
    """Where a rendered file comes from: written into its header."""

    at: datetime
    source_seq: int  # the audit event the store was at when read
    source_hash: str
    event_seq: int  # the audit event recording this publication

    @property
    def when(self) -> str:
        return self.at.isoformat(timespec="seconds").replace("+00:00", "Z")


# Renders the validated policy as files (name → text); without a stamp, the bare
# content whose SHA-256 the audit event records.
Renderer = Callable[[Enforcement, Stamp | None], dict[str, str]]
Counter = Callable[[Enforcement], Mapping[str, int]]


@dataclass(frozen=True)
class Gateway:
    name: GatewayName
    title: str  # how people call it
    reach: Reach
    render: Renderer | None = None  # None: nothing to write (an API gateway)
    counts: Counter | None = None  # entries per list, for the audit event and the CLI
    file_name: str | None = None  # the hand-over file's name

    @property
    def manual(self) -> bool:
        return self.reach is Reach.HANDOVER


def parse_names(text: str) -> tuple[GatewayName, ...]:
    """``postfix,mimecast`` → the names in order, once each; ``ValueError`` naming a bad one."""
    names: list[GatewayName] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        try:
            name = GatewayName(part)
        except ValueError:
            known = ", ".join(n.value for n in GatewayName)
            raise ValueError(f"{part!r} is not a gateway (one of {known})") from None
        if name not in names:
            names.append(name)
    return tuple(names)
