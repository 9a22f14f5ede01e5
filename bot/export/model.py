"""The slice of an approved policy that is published to the mail gateway.

A :class:`PublishedPolicy` is what ``store.load_published`` reads from the policy
store for each active policy in ``enforce`` mode. Its strings are *not* trusted:
``tables`` validates every domain and MX name again before anything is written.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.policy.levels import PolicyLevel

# How strictly outbound delivery to a domain is secured: the policy store's one
# strict/relaxed enum (strict: TLS 1.2+, certificate verified against the validated MX
# names; relaxed: TLS 1.2+, encryption mandatory, certificate not verified).
Level = PolicyLevel


class MapName(enum.StrEnum):
    """The two tables, by the names the socketmap serves them under."""

    TLS_POLICY = "tls_policy"  # smtp_tls_policy_maps (Secure Delivery, outbound)
    TLS_INBOUND = "tls_inbound"  # check_sender_access (Secure Receipt, inbound)


@dataclass(frozen=True)
class PublishedPolicy:
    """One partner domain's policy as it must be enforced."""

    domain: str
    level: Level | str
    mx_hosts: tuple[str, ...] = ()
    delivery: bool = True  # Secure Delivery: outbound mail to the domain needs TLS
    receipt: bool = True  # Secure Receipt: inbound mail from the domain needs TLS
    # what the partner publishes (its admitting validation's PartnerTls), not trusted either:
    dane: bool = False  # every MX host DANE-verified: enforce dane-only
    sts_mx: tuple[str, ...] = ()  # the mx patterns of its MTA-STS policy in enforce mode
