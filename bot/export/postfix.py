"""The Postfix gateway: both tables as files (``tlsbot export postfix``), or served live
by ``tlsbot socketmap`` (:mod:`bot.export.socketmap`). The mapping itself is
:mod:`bot.export.tables`."""

from __future__ import annotations

from collections.abc import Mapping

from bot.export.gateway import Gateway, GatewayName, Reach, Stamp
from bot.export.model import MapName
from bot.export.names import Enforcement
from bot.export.tables import render as render_table
from bot.export.tables import tables_of

PURPOSE = {
    MapName.TLS_POLICY: "Postfix smtp_tls_policy_maps (outbound, Secure Delivery)",
    MapName.TLS_INBOUND: "Postfix check_sender_access table (inbound, Secure Receipt)",
}


def render(view: Enforcement, stamp: Stamp | None) -> dict[str, str]:
    tables = tables_of(view)
    files = {}
    for name in MapName:
        entries = tables.table(name)
        header = []
        if stamp is not None:
            header = [
                f"{name.value}: {PURPOSE[name]}.",
                "Written by `tlsbot export postfix`; do not edit, the next export replaces it.",
                f"Produced {stamp.when} from the policy store as of audit event "
                f"#{stamp.source_seq} ({stamp.source_hash[:16]}); recorded as audit event "
                f"#{stamp.event_seq}.",
                f"{len(entries)} entries.",
            ]
        files[name.value] = render_table(entries, header)
    return files


def counts(view: Enforcement) -> Mapping[str, int]:
    tables = tables_of(view)
    return {name.value: len(tables.table(name)) for name in MapName}


GATEWAY = Gateway(GatewayName.POSTFIX, "Postfix", Reach.TABLES, render=render, counts=counts)
