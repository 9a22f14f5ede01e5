"""``private_metadata``: ids and a version only, so any replica can serve the next click."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

MAX_METADATA = 3000


@dataclass(frozen=True, slots=True)
class Meta:
    draft: int | None = None  # the Draft row behind the flow
    version: int | None = None  # the draft's version when the view was built
    page: int = 0
    expanded: tuple[str, ...] = field(default=())  # row keys shown with More
    request: int | None = None  # a change request (Reject reason modal)
    channel: str | None = None  # where the request's message is (Reject reason modal)
    ts: str | None = None
    line: str | None = None  # the row a per-domain step is about ("l3", "p12")

    def encode(self) -> str:
        data: dict[str, object] = {}
        for name, key in _KEYS.items():
            value = getattr(self, name)
            if value is not None:
                data[key] = value
        if self.page:
            data["p"] = self.page
        if self.expanded:
            data["x"] = list(self.expanded)[-20:]
        text = json.dumps(data, separators=(",", ":"))
        assert len(text) <= MAX_METADATA
        return text

    @classmethod
    def decode(cls, text: str | None) -> Meta:
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()

        def num(key: str) -> int | None:
            value = data.get(key)
            # JSON's true is an int to Python; an id is never negative
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return value if ok else None

        expanded = data.get("x")
        return cls(
            draft=num("d"),
            version=num("v"),
            page=num("p") or 0,
            expanded=tuple(str(x) for x in expanded) if isinstance(expanded, list) else (),
            request=num("r"),
            channel=str(data["c"]) if isinstance(data.get("c"), str) else None,
            ts=str(data["t"]) if isinstance(data.get("t"), str) else None,
            line=str(data["l"]) if isinstance(data.get("l"), str) else None,
        )


_KEYS = {"draft": "d", "version": "v", "request": "r", "channel": "c", "ts": "t", "line": "l"}
