"""Who may approve: user ids directly, user-group ids resolved through Slack and cached.

Group membership is fetched with ``usergroups.users.list`` and kept for a TTL;
a failed lookup is not cached, and a user is never an approver by accident: a
group that cannot be resolved counts as empty for that check. Slack's
``subteam_members_changed`` event (a member added to or removed from a group)
refreshes that group at once (:meth:`Approvers.refresh`), on the replica the event
reaches; the others follow within the TTL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class Approvers:
    def __init__(
        self,
        users: frozenset[str],
        groups: frozenset[str],
        *,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.groups = groups
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    @property
    def configured(self) -> bool:
        return bool(self.users or self.groups)

    async def is_approver(self, user_id: str, client: AsyncWebClient) -> bool:
        if user_id in self.users:
            return True
        for group in sorted(self.groups):
            if user_id in await self._members(group, client):
                return True
        return False

    async def _members(self, group: str, client: AsyncWebClient) -> frozenset[str]:
        now = self._clock()
        cached = self._cache.get(group)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            response: Any = await client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            log.warning("cannot resolve user group %s: %s", group, exc)
            return frozenset()
        members = frozenset(str(u) for u in response.get("users") or ())
        self._cache[group] = (now + self.ttl, members)
        return members

    async def refresh(self, group: str, client: AsyncWebClient) -> bool:
        """Look ``group`` up again now (its members changed); False if it is not one of ours."""
        if group not in self.groups:
            return False
        self._cache.pop(group, None)
        await self._members(group, client)
        return True
