"""The MTA-STS policy cache the probe is given (RFC 8461 §5.1): an interface, no storage.

A fetched policy is kept by domain with the ``id`` of the TXT record it was fetched
under and the moment it was fetched; it may be used instead of fetching again while
the TXT record still has that ``id`` and ``max_age`` seconds have not passed. The
probe knows nothing of where entries live: :class:`StsCache` is the protocol, and
``bot.policy.sts_cache`` implements it on the policy store, so that every replica
shares one cache. Without a cache every probe fetches.

An implementation must not raise for a store it cannot reach: ``get`` answers
``None`` (the probe then fetches) and ``put`` gives up. The probe still guards
against one that does (:mod:`bot.probe.extras`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.probe.sts_parse import StsPolicy


@dataclass(frozen=True, slots=True)
class CachedPolicy:
    policy_id: str  # the TXT record's id= the policy was fetched under
    policy: StsPolicy
    fetched_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.fetched_at + timedelta(seconds=self.policy.max_age)

    def usable(self, policy_id: str | None, now: datetime) -> bool:
        """Still the policy of a TXT record with this ``id``, and not expired at ``now``."""
        return policy_id == self.policy_id and self.fetched_at <= now < self.expires_at


class StsCache(Protocol):
    async def get(self, domain: str) -> CachedPolicy | None:
        """The policy cached for ``domain`` (expired or not), or ``None``."""
        ...

    async def put(self, domain: str, entry: CachedPolicy) -> None:
        """Keep ``entry`` as ``domain``'s policy, replacing what was there."""
        ...
