"""An in-memory snapshot of both tables, refreshed when the store's version changes.

The socketmap answers every lookup from memory: at thousands of lookups a second
a query per lookup is out of the question on a remote PostgreSQL. A background
task asks the store for its *version* (one cheap query) every
``refresh_interval`` seconds and reloads the tables only when it changed.

A reload applies what changed, not the whole store: :class:`LiveTables` keeps the
policies by id and by domain, recomputes the entries of the domains a change
touched, and hands out new tables that share everything else with the old ones
(:class:`LayeredMap`: the old mapping under a small layer of changed keys, folded
into a new base once the layer grows). A lookup therefore never waits for a copy
of 100,000 entries, and the snapshot it reads is never half-applied: each
reload swaps in new tables at once.

Staleness bound: an approved change is answered at most ``refresh_interval``
plus one reload after it was committed. If the store cannot be reached, the
last snapshot keeps being served until it is ``max_stale`` seconds older than
its last successful check; after that, and before the first successful load,
every lookup is answered ``TEMP`` so Postfix defers instead of guessing.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar, overload

from bot.export.model import PublishedPolicy
from bot.export.tables import Rejection, Tables, build_tables

log = logging.getLogger(__name__)


class Source(Protocol):
    """Where the tables come from (the database in production)."""

    def version(self) -> Hashable:
        """A value that changes whenever the published policy may have changed."""
        ...

    def load(self) -> tuple[Hashable, Tables]:
        """The version and the tables at that version."""
        ...


@dataclass(frozen=True)
class Snapshot:
    tables: Tables
    version: Hashable
    checked_at: float  # monotonic time of the last successful version check


_T = TypeVar("_T")


class LayeredMap(Mapping[str, str]):
    """A read-only mapping: ``base`` under a layer of changes (``None``: key removed).

    :meth:`changed` returns a new map and leaves this one as it was, so readers of
    the old one are never disturbed; it costs the size of the layer, and once the
    layer outgrows ``max(FOLD_MIN, len(base) // FOLD_RATIO)`` keys it is folded into
    a new base (one copy, every few thousand changes).
    """

    FOLD_MIN = 1024
    FOLD_RATIO = 16
    __slots__ = ("_base", "_layer", "_len")

    def __init__(
        self,
        base: Mapping[str, str] | None = None,
        layer: Mapping[str, str | None] | None = None,
        length: int | None = None,
    ) -> None:
        self._base: Mapping[str, str] = base if base is not None else {}
        self._layer: Mapping[str, str | None] = layer if layer is not None else {}
        self._len = len(self._base) if length is None else length

    @overload
    def get(self, key: str, /) -> str | None: ...

    @overload
    def get(self, key: str, /, default: str | _T) -> str | _T: ...

    def get(self, key: str, /, default: object = None) -> object:
        layer = self._layer
        if key in layer:
            value = layer[key]
            return default if value is None else value
        return self._base.get(key, default)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        layer = self._layer
        yield from (key for key in self._base if key not in layer)
        yield from (key for key, value in layer.items() if value is not None)

    def changed(self, changes: Mapping[str, str | None]) -> LayeredMap:
        """A new map with ``changes`` applied (``None`` removes a key)."""
        length = self._len
        for key, value in changes.items():
            length += (value is not None) - (self.get(key) is not None)
        layer = {**self._layer, **changes}
        if len(layer) <= max(self.FOLD_MIN, len(self._base) // self.FOLD_RATIO):
            return LayeredMap(self._base, layer, length)
        base = dict(self._base)
        for key, value in layer.items():
            if value is None:
                base.pop(key, None)
            else:
                base[key] = value
        return LayeredMap(base)


class LiveTables:
    """The published policies by id, and both tables built from them, kept up to date
    change by change (:meth:`apply`) instead of rebuilt.

    Each domain's entries depend only on the policies of that domain (duplicates are
    resolved within a domain), so a change to one policy recomputes one or two
    domains with :func:`~bot.export.tables.build_tables`, the same rules as a full
    build. Not thread-safe: one refresher owns it; :attr:`tables` may be read anywhere.
    """

    def __init__(self) -> None:
        self._policies: dict[int, PublishedPolicy] = {}
        self._by_domain: dict[str, tuple[int, ...]] = {}  # a domain has one policy, or few
        self._rejected: dict[str, tuple[Rejection, ...]] = {}
        self.tables = Tables(tls_policy=LayeredMap(), tls_inbound=LayeredMap())

    def __len__(self) -> int:
        return len(self._policies)

    @classmethod
    def build(cls, policies: Iterable[tuple[int, PublishedPolicy]]) -> LiveTables:
        live = cls()
        for policy_id, policy in policies:
            live._policies[policy_id] = policy
            live._by_domain[policy.domain] = (*live._by_domain.get(policy.domain, ()), policy_id)
        outbound: dict[str, str] = {}
        inbound: dict[str, str] = {}
        for domain in sorted(live._by_domain):
            out, into = live._recompute(domain)
            if out is not None:
                outbound[domain] = out
            if into is not None:
                inbound[domain] = into
        live.tables = Tables(
            tls_policy=LayeredMap(outbound),
            tls_inbound=LayeredMap(inbound),
            rejected=live._all_rejected(),
            needs_dnssec=live._needs_dnssec(),
        )
        return live

    def apply(self, changes: Mapping[int, PublishedPolicy | None]) -> Tables:
        """Apply ``changes`` (policy id → what is published now, ``None``: nothing)."""
        touched: set[str] = set()
        for policy_id, policy in changes.items():
            old = self._policies.pop(policy_id, None)
            if old is not None:
                touched.add(old.domain)
                ids = tuple(i for i in self._by_domain.get(old.domain, ()) if i != policy_id)
                if ids:
                    self._by_domain[old.domain] = ids
                else:
                    self._by_domain.pop(old.domain, None)
            if policy is not None:
                self._policies[policy_id] = policy
                self._by_domain[policy.domain] = (
                    *self._by_domain.get(policy.domain, ()),
                    policy_id,
                )
                touched.add(policy.domain)
        outbound: dict[str, str | None] = {}
        inbound: dict[str, str | None] = {}
        for domain in touched:
            outbound[domain], inbound[domain] = self._recompute(domain)
        tables = self.tables
        assert isinstance(tables.tls_policy, LayeredMap)
        assert isinstance(tables.tls_inbound, LayeredMap)
        self.tables = Tables(
            tls_policy=tables.tls_policy.changed(outbound),
            tls_inbound=tables.tls_inbound.changed(inbound),
            rejected=self._all_rejected(),
            needs_dnssec=self._needs_dnssec(),
        )
        return self.tables

    def _needs_dnssec(self) -> bool:
        """Some outbound entry is ``dane-only`` (as :attr:`PolicyView.needs_dnssec`)."""
        return any(p.delivery and p.dane for p in self._policies.values())

    def _recompute(self, domain: str) -> tuple[str | None, str | None]:
        """The entries of ``domain`` (outbound, inbound) from its policies, by id."""
        ids = self._by_domain.get(domain)
        part = build_tables(self._policies[i] for i in sorted(ids or ()))
        if part.rejected:
            self._rejected[domain] = part.rejected
        else:
            self._rejected.pop(domain, None)
        return part.tls_policy.get(domain), part.tls_inbound.get(domain)

    def _all_rejected(self) -> tuple[Rejection, ...]:
        return tuple(itertools.chain.from_iterable(self._rejected.values()))


class SnapshotCache:
    """Holds the current :class:`Snapshot`; ``current()`` is what lookups read."""

    def __init__(
        self,
        source: Source,
        *,
        refresh_interval: float = 0.25,
        max_stale: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self.refresh_interval = refresh_interval
        self.max_stale = max_stale
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self.last_error: str | None = None

    def current(self) -> Tables | None:
        """The tables to answer from, or ``None`` when they cannot be trusted (→ TEMP)."""
        snap = self._snapshot
        if snap is None or self._clock() - snap.checked_at > self.max_stale:
            return None
        return snap.tables

    @property
    def version(self) -> Hashable | None:
        return None if self._snapshot is None else self._snapshot.version

    def refresh(self) -> bool:
        """Check the version, reload if it changed; ``True`` when tables were (re)loaded.

        Blocking (it queries the store): run it in a worker thread from asyncio.
        """
        try:
            snap = self._snapshot
            if snap is not None and self._source.version() == snap.version:
                self._snapshot = Snapshot(snap.tables, snap.version, self._clock())
                self.last_error = None
                return False
            version, tables = self._source.load()
        except Exception as exc:  # any store failure means "could not check"
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            if message != self.last_error:
                log.warning("policy store unavailable: %s", message)
            self.last_error = message
            return False
        gc.freeze()  # the snapshot lives long: keep it out of future collections' work
        before = set(self._snapshot.tables.rejected) if self._snapshot is not None else set()
        for rejection in tables.rejected:
            if rejection not in before:  # each once, not again at every change
                log.warning("not published: %s", rejection)
        self._snapshot = Snapshot(tables, version, self._clock())
        self.last_error = None
        log.info(
            "loaded version %s: %d outbound, %d inbound entries",
            version,
            len(tables.tls_policy),
            len(tables.tls_inbound),
        )
        return True

    async def run(self) -> None:
        """Refresh forever, every ``refresh_interval`` seconds."""
        while True:
            await asyncio.to_thread(self.refresh)
            await asyncio.sleep(self.refresh_interval)
