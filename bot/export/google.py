"""Google Workspace: an exact change sheet for the Secure transport (TLS) compliance
setting, handed over (Google offers no API for it).

The sheet names the console path (Apps → Google Workspace → Gmail → Compliance →
Secure transport (TLS) compliance), the three settings with the options to tick,
and the contents of their three address lists, one domain a line, to paste with
*Bulk add*. Mapping (docs/gateways.md):

* strict  → outbound setting, list ``tlsbot strict``: *Require CA signed
  certificate* and *Validate certificate hostname* ticked;
* relaxed → outbound setting, list ``tlsbot relaxed``: neither ticked (TLS
  required, any certificate);
* inbound → inbound setting, list ``tlsbot inbound``.

Only validated domains reach the sheet (:func:`bot.export.names.check_domain`
again, on the way out), so a value cannot add a line or an instruction.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.export.gateway import Gateway, GatewayName, Reach, Stamp
from bot.export.names import Enforcement, ListName, check_domain

FILE_NAME = "tlsbot-google.txt"
PATH = "Apps > Google Workspace > Gmail > Compliance > Secure transport (TLS) compliance"
LISTS_PATH = "Apps > Google Workspace > Gmail > Manage address lists"

_SETTING = {
    ListName.STRICT: (
        "tlsbot strict outbound",
        "Outbound",
        "[x] Require CA signed certificate    [x] Validate certificate hostname",
    ),
    ListName.RELAXED: (
        "tlsbot relaxed outbound",
        "Outbound",
        "[ ] Require CA signed certificate    [ ] Validate certificate hostname",
    ),
    ListName.INBOUND: ("tlsbot inbound", "Inbound", "(no certificate options for inbound mail)"),
}


def list_name(kind: ListName) -> str:
    return f"tlsbot {kind.value}"


def sheet(view: Enforcement, stamp: Stamp | None = None) -> str:
    lists = view.lists()
    lines = ["tlsbot: Google Workspace change sheet, Secure transport (TLS) compliance"]
    if stamp is not None:
        lines += [
            f"Produced {stamp.when} from the policy store as of audit event #{stamp.source_seq} "
            f"({stamp.source_hash[:16]}); recorded as audit event #{stamp.event_seq}.",
        ]
    lines += [
        "",
        "Google offers no API for this setting: make these changes in the Admin console",
        "(admin.google.com), at the top-level organizational unit, then click *Mark applied*",
        "in Slack. Applying the same sheet twice changes nothing.",
        "",
        f"Step 1. Address lists ({LISTS_PATH}).",
        "        Make each list hold exactly the domains of its section below: remove what",
        "        is not listed there, then Bulk add the section (one domain a line).",
    ]
    for kind in ListName:
        lines.append(
            f"        - {list_name(kind)!r}: {len(lists[kind])} domains (section {kind.value})"
        )
    lines += ["", f"Step 2. Settings ({PATH}):", "        Configure (or Edit) one setting each:"]
    for n, kind in enumerate(ListName, start=1):
        title, direction, options = _SETTING[kind]
        lines += [
            f"  2.{n} Description: {title!r}",
            f"      Email messages to affect: [x] {direction} only",
            f"      Address list: use existing list {list_name(kind)!r}",
            f"      Options: {options}",
        ]
        if not lists[kind]:
            lines.append("      The list is empty: delete this setting if it exists.")
    lines += ["      Save each setting. Changes can take up to an hour to take effect.", ""]
    for kind in ListName:
        domains = [check_domain(d) for d in lists[kind]]
        lines.append(f"=== section {kind.value}: {list_name(kind)!r}, {len(domains)} domains ===")
        lines += domains or ["(empty)"]
        lines.append("")
    return "\n".join(lines)


def render(view: Enforcement, stamp: Stamp | None) -> dict[str, str]:
    return {FILE_NAME: sheet(view, stamp)}


def counts(view: Enforcement) -> Mapping[str, int]:
    return {kind.value: len(domains) for kind, domains in view.lists().items()}


GATEWAY = Gateway(
    GatewayName.GOOGLE,
    "Google Workspace",
    Reach.HANDOVER,
    render=render,
    counts=counts,
    file_name=FILE_NAME,
)
