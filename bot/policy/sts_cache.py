"""The MTA-STS policy cache of the probe (:class:`bot.probe.sts_cache.StsCache`) on the store.

One row per domain in ``mta_sts_cache``, so that every replica's probe shares what any
of them fetched: while a domain's TXT record keeps its ``id`` and the policy's
``max_age`` has not run out, no replica fetches it again. A write is one upsert
(``INSERT … ON CONFLICT (domain) DO UPDATE``, on SQLite and PostgreSQL alike), so two
replicas storing at once leave one whole row, never an error.

The store is reached from a worker thread (``asyncio.to_thread``); a store that cannot
be reached makes ``get`` answer ``None`` (the probe then fetches) and ``put`` give up,
each logged once per failure: the cache never costs a probe.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.policy.db import new_session
from bot.policy.models import MtaStsCache
from bot.probe.model import Code, Reason
from bot.probe.sts_cache import CachedPolicy
from bot.probe.sts_parse import MODES, StsPolicy

log = logging.getLogger("tlsbot.sts_cache")


class DatabaseStsCache:
    """:class:`bot.probe.sts_cache.StsCache` on the policy store's ``mta_sts_cache``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get(self, domain: str) -> CachedPolicy | None:
        return await asyncio.to_thread(self._get, domain)

    async def put(self, domain: str, entry: CachedPolicy) -> None:
        await asyncio.to_thread(self._put, domain, entry)

    def _get(self, domain: str) -> CachedPolicy | None:
        try:
            with new_session(self._engine) as session:
                row = session.get(MtaStsCache, domain)
                return _entry(row) if row is not None else None
        except SQLAlchemyError as exc:
            log.warning("MTA-STS cache unavailable: %s", str(exc).splitlines()[0][:200])
            return None

    def _put(self, domain: str, entry: CachedPolicy) -> None:
        policy = entry.policy
        values: dict[str, Any] = {
            "domain": domain,
            "policy_id": entry.policy_id,
            "mode": policy.mode,
            "mx": list(policy.mx),
            "max_age": policy.max_age,
            "warnings": [w.to_dict() for w in policy.warnings],
            "fetched_at": entry.fetched_at,
            "expires_at": entry.expires_at,
        }
        dialect = self._engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(MtaStsCache).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["domain"], set_={k: v for k, v in values.items() if k != "domain"}
        )
        try:
            with new_session(self._engine) as session:
                session.execute(statement)
                session.commit()
        except SQLAlchemyError as exc:
            log.warning("MTA-STS cache not updated: %s", str(exc).splitlines()[0][:200])


def _entry(row: MtaStsCache) -> CachedPolicy | None:
    """The row as a cached policy; a row that is not one (edited by hand) is no entry."""
    if row.mode not in MODES or not isinstance(row.mx, list) or row.max_age < 0:
        return None
    warnings = tuple(
        Reason(Code.STS_POLICY_NONSTANDARD, str(w.get("message", "")))
        for w in row.warnings or []
        if isinstance(w, dict)
    )
    policy = StsPolicy(
        mode=row.mode,
        mx=tuple(str(m) for m in row.mx),
        max_age=int(row.max_age),
        warnings=warnings,
    )
    return CachedPolicy(row.policy_id, policy, row.fetched_at)
