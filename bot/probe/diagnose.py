"""What a whole batch says about the host running tlsbot, as a pure function over results.

Most clouds and many ISPs block outbound port 25. From such a host every probe
ends the same way: the connection times out or is refused, while DNS answers
normally. Reported one domain at a time, that reads as fifty partners that
"could not be tested"; :func:`diagnose` says it once instead:
:class:`PortBlocked` when

- at least :data:`MIN_ADDRESSES` distinct (address, port) pairs were tried (their
  addresses came from DNS, so DNS answered), and
- every connection to every one of them failed before a greeting: refused,
  timed out, or failed to connect (codes :data:`CONNECT_FAILURES`).

Addresses that were never tried (refused by the address guard, or of a family
this host cannot reach) are not evidence either way. One host that greeted is
enough to clear the host running tlsbot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.probe.model import Code, HostResult, TargetResult

MIN_ADDRESSES = 2
CONNECT_FAILURES = frozenset({Code.CONNECT_REFUSED, Code.CONNECT_FAILED, Code.TIMEOUT})
PORT_BLOCKED = "outbound-port-blocked"  # the code in --json


def failed_to_connect(host: HostResult) -> bool:
    """The probe tried this address and never got an SMTP greeting from it."""
    return (
        host.connections > 0
        and not host.reached
        and bool(host.reasons)
        and host.reasons[0].code in CONNECT_FAILURES
    )


@dataclass(frozen=True, slots=True)
class PortBlocked:
    """Every connection of a batch failed while DNS answered: port 25 seems blocked here."""

    ports: tuple[int, ...]
    addresses: int  # distinct (address, port) pairs tried
    targets: int  # targets with at least one of them
    timed_out: int  # of the addresses, those whose connection timed out
    refused: int  # ... was refused (the rest failed otherwise)

    code = PORT_BLOCKED

    @property
    def message(self) -> str:
        port, it = ("port", "it") if len(self.ports) == 1 else ("ports", "them")
        ports = ", ".join(str(p) for p in self.ports)
        how = _how(self.timed_out, self.refused, self.addresses)
        targets = f"{self.targets} target{'s' if self.targets != 1 else ''}"
        return (
            f"This host seems unable to reach {port} {ports}: the connections to all "
            f"{self.addresses} mail server addresses of {targets} {how}, while DNS answered. "
            f"Many cloud providers and ISPs block outbound {port} {ports}; ask yours to open "
            f"{it}, or run tlsbot on a host that can send mail "
            f"(`tlsbot doctor --smtp HOST` checks one server)."
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "ports": list(self.ports),
            "addresses": self.addresses,
            "targets": self.targets,
            "timed_out": self.timed_out,
            "refused": self.refused,
        }


def _how(timed_out: int, refused: int, total: int) -> str:
    if timed_out == total:
        return "timed out"
    if refused == total:
        return "were refused"
    return "timed out or were refused"


def diagnose(results: Iterable[TargetResult]) -> PortBlocked | None:
    """:class:`PortBlocked` when the batch shows this host cannot reach SMTP at all."""
    tried: dict[tuple[str, int], bool] = {}  # (address, port) -> every attempt failed
    codes: dict[tuple[str, int], Code] = {}
    targets = 0
    for result in results:
        counted = False
        for host in result.hosts:
            if host.address is None or host.connections == 0:
                continue  # never tried: says nothing about this host's reach
            key = (host.address, host.port)
            failed = failed_to_connect(host)
            tried[key] = tried.get(key, True) and failed
            if failed:
                codes[key] = host.reasons[0].code
            counted = True
        targets += counted
    if len(tried) < MIN_ADDRESSES or not all(tried.values()):
        return None
    return PortBlocked(
        ports=tuple(sorted({port for _, port in tried})),
        addresses=len(tried),
        targets=targets,
        timed_out=sum(1 for c in codes.values() if c is Code.TIMEOUT),
        refused=sum(1 for c in codes.values() if c is Code.CONNECT_REFUSED),
    )
