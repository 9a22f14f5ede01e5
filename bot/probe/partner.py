"""What a partner publishes about its own TLS, as one validation saw it: DNSSEC, DANE, MTA-STS.

:class:`PartnerTls` is the part of a :class:`~bot.probe.model.TargetResult` that
enforcement and monitoring keep with a policy: whether the MX answer was
DNSSEC-secure, whether every MX host was DANE-verified (then the gateway can enforce
``dane-only``), and the MTA-STS policy (id, mode, mx patterns). It is written with
:meth:`PartnerTls.to_dict` (into the validation's JSON and the policy's ``partner``
column) and read back only with :meth:`PartnerTls.from_dict`, which takes anything --
a row written before the column existed, a hand edit -- and keeps only what is well
formed (the exporter validates every name again before publishing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.probe.model import Dnssec
from bot.probe.sts_parse import MODES

if TYPE_CHECKING:  # the model builds one while it serialises
    from bot.probe.model import TargetResult


_DNSSEC = frozenset(d.value for d in Dnssec)


@dataclass(frozen=True, slots=True)
class PartnerTls:
    dnssec: Dnssec | None = None  # of the MX answer (None: not checked, TLSBOT_DNSSEC=off)
    dane: bool = False  # every MX host had a usable TLSA record that matched (dane-only)
    sts_id: str | None = None  # the MTA-STS TXT record's id
    sts_mode: str | None = None  # enforce / testing / none
    sts_mx: tuple[str, ...] = ()  # the policy's mx patterns, lower case

    @property
    def signed(self) -> bool:
        return self.dnssec is Dnssec.SECURE

    @property
    def sts_enforced(self) -> bool:
        return self.sts_mode == "enforce" and bool(self.sts_mx)

    @classmethod
    def of(cls, result: TargetResult) -> PartnerTls:
        extras = result.extras
        valid_policy = extras.mta_sts_mode is not None
        return cls(
            dnssec=result.dnssec,
            dane=result.dane_verified,
            sts_id=extras.mta_sts_id if valid_policy else None,
            sts_mode=extras.mta_sts_mode,
            sts_mx=tuple(extras.mta_sts_mx) if valid_policy else (),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dnssec": self.dnssec.value if self.dnssec is not None else None,
            "dane": self.dane,
            "sts_id": self.sts_id,
            "sts_mode": self.sts_mode,
            "sts_mx": list(self.sts_mx),
        }

    @classmethod
    def from_dict(cls, data: object) -> PartnerTls:
        """The stored value, whatever it is: unknown or malformed parts are left out."""
        if not isinstance(data, dict):
            return cls()
        mode = data.get("sts_mode")
        ident = data.get("sts_id")
        mx = data.get("sts_mx")
        dnssec = data.get("dnssec")
        return cls(
            dnssec=Dnssec(dnssec) if dnssec in _DNSSEC else None,
            dane=data.get("dane") is True,
            sts_id=ident if isinstance(ident, str) else None,
            sts_mode=mode if mode in MODES else None,
            sts_mx=tuple(m for m in mx if isinstance(m, str)) if isinstance(mx, list) else (),
        )
