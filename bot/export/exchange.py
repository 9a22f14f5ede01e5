"""Microsoft 365 (Exchange Online): an idempotent PowerShell script, handed over.

Exchange Online connectors are managed only with Exchange Online PowerShell, so
tlsbot writes the script and a gateway admin runs it (``tlsbot export exchange
--out FILE.ps1``, or the file posted in Slack). The mapping (docs/exchange.md):

* strict  → Outbound connectors ``tlsbot strict N``: ``-ConnectorType Partner
  -UseMXRecord $true -TlsSettings CertificateValidation`` (chain and revocation
  checked). ``DomainValidation`` checks one ``-TlsDomain`` per connector, so it
  cannot check many partners' MX names at once; that is what Exchange cannot
  express, and the Postfix ``match=`` of our MX names has no equivalent here.
* relaxed → Outbound connectors ``tlsbot relaxed N``: ``-TlsSettings EncryptionOnly``.
* inbound → Inbound connectors ``tlsbot inbound N``: ``-ConnectorType Partner
  -SenderDomains … -RequireTls $true``.

Each connector holds at most :data:`MAX_DOMAINS` domains; a longer list is split
into numbered connectors, and tlsbot's connectors no longer needed are removed,
so running the script twice changes nothing the second time.

Every value is single-quoted by :func:`quote` (quotes doubled, control
characters refused) after the validators of :mod:`bot.export.names` have
accepted it again (:func:`domain_literal`): a hostile value in the store can
neither end the string nor start a command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.export.gateway import Gateway, GatewayName, Reach, Stamp
from bot.export.names import Enforcement, ListName, check_domain

# Below both connector limits reported to Microsoft's docs team (1800 outbound,
# 4450 inbound: MicrosoftDocs/OfficeDocs-O365ServiceDescriptions#494); see docs/exchange.md.
MAX_DOMAINS = 1000
PREFIX = "tlsbot"
FILE_NAME = "tlsbot-exchange.ps1"

# PowerShell treats all five as a single quote (about_Quoting_Rules; the language
# specification's single-quote-character): each is doubled inside a verbatim string.
_QUOTES = frozenset("'\u2018\u2019\u201a\u201b")
_TLS = {ListName.STRICT: "CertificateValidation", ListName.RELAXED: "EncryptionOnly"}


def quote(value: str) -> str:
    """``value`` as a PowerShell verbatim (single-quoted) string literal."""
    for ch in value:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029":
            raise ValueError(f"{value[:40]!r} holds a control character; it is not quoted")
    return "'" + "".join(ch * 2 if ch in _QUOTES else ch for ch in value) + "'"


def domain_literal(domain: str) -> str:
    """A validated domain, quoted; ``InvalidName`` for anything the validators refuse."""
    return quote(check_domain(domain))


def connector_names(kind: ListName, domains: Sequence[str]) -> list[tuple[str, Sequence[str]]]:
    """``[(name, domains), …]``: the list split into connectors of MAX_DOMAINS at most."""
    chunks = [domains[i : i + MAX_DOMAINS] for i in range(0, len(domains), MAX_DOMAINS)]
    return [(f"{PREFIX} {kind.value} {n}", chunk) for n, chunk in enumerate(chunks, start=1)]


_FUNCTIONS = """\
function Set-TlsbotOutbound([string]$Name, [string]$Tls, [string[]]$Domains) {
    $found = @(Get-OutboundConnector | Where-Object { $_.Name -eq $Name })
    if ($found.Count -eq 0) {
        New-OutboundConnector -Name $Name -ConnectorType Partner -RecipientDomains $Domains `
            -UseMXRecord $true -TlsSettings $Tls -Comment $Comment | Out-Null
        Write-Host "created $Name ($($Domains.Count) domains, $Tls)"
    } else {
        Set-OutboundConnector -Identity $Name -ConnectorType Partner -RecipientDomains $Domains `
            -UseMXRecord $true -TlsSettings $Tls -Comment $Comment
        Write-Host "updated $Name ($($Domains.Count) domains, $Tls)"
    }
}

function Set-TlsbotInbound([string]$Name, [string[]]$Domains) {
    $found = @(Get-InboundConnector | Where-Object { $_.Name -eq $Name })
    if ($found.Count -eq 0) {
        New-InboundConnector -Name $Name -ConnectorType Partner -SenderDomains $Domains `
            -RequireTls $true -Comment $Comment | Out-Null
        Write-Host "created $Name ($($Domains.Count) domains, TLS required)"
    } else {
        Set-InboundConnector -Identity $Name -ConnectorType Partner -SenderDomains $Domains `
            -RequireTls $true -Comment $Comment
        Write-Host "updated $Name ($($Domains.Count) domains, TLS required)"
    }
}
"""


def script(view: Enforcement, stamp: Stamp | None = None) -> str:
    """The whole script; without ``stamp``, the bare content (its SHA-256 is audited)."""
    lists = view.lists()
    lines = [*_header(lists, stamp), "", "$ErrorActionPreference = 'Stop'", ""]
    lines.append(f"$Comment = {quote(_comment(stamp))}")
    lines += ["", _FUNCTIONS.rstrip("\n"), ""]
    keep: dict[str, list[str]] = {"Outbound": [], "Inbound": []}
    for kind in ListName:
        connectors = connector_names(kind, lists[kind])
        side = "Inbound" if kind is ListName.INBOUND else "Outbound"
        lines.append(
            f"# {kind.value}: {_count(len(lists[kind]), 'domain')} in "
            f"{_count(len(connectors), 'connector')}"
        )
        for name, chunk in connectors:
            keep[side].append(name)
            variable = "$" + name.replace(" ", "_")
            lines.append(f"{variable} = @(")
            lines += [f"    {domain_literal(d)}," for d in chunk[:-1]]
            lines.append(f"    {domain_literal(chunk[-1])}")
            lines.append(")")
            if kind is ListName.INBOUND:
                lines.append(f"Set-TlsbotInbound -Name {quote(name)} -Domains {variable}")
            else:
                tls = quote(_TLS[kind])
                lines.append(
                    f"Set-TlsbotOutbound -Name {quote(name)} -Tls {tls} -Domains {variable}"
                )
        lines.append("")
    lines.append("# tlsbot's connectors that the policy no longer needs")
    for side, names in keep.items():
        kept = ", ".join(quote(n) for n in names)
        lines += [
            f"$keep = @({kept})",
            f"Get-{side}Connector | Where-Object {{ $_.Name -like {quote(PREFIX + ' *')} "
            "-and $keep -notcontains $_.Name } | ForEach-Object {",
            f"    Remove-{side}Connector -Identity $_.Identity -Confirm:$false",
            '    Write-Host "removed $($_.Name)"',
            "}",
        ]
    return "\n".join(lines) + "\n"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _comment(stamp: Stamp | None) -> str:
    if stamp is None:
        return "Managed by tlsbot; changes made here are replaced by its next script."
    return (
        f"Managed by tlsbot (audit event #{stamp.event_seq}); changes made here are "
        "replaced by its next script."
    )


def _header(lists: Mapping[ListName, Sequence[str]], stamp: Stamp | None) -> list[str]:
    lines = [
        "# tlsbot: Exchange Online connectors enforcing the approved TLS policy.",
        "# Run it in Exchange Online PowerShell (Connect-ExchangeOnline first). Running it again",
        "# changes nothing: it creates or updates the connectors named 'tlsbot ...' and removes",
        "# tlsbot's connectors that are no longer needed. Then click *Mark applied* in Slack.",
    ]
    if stamp is not None:
        lines += [
            f"# Produced {stamp.when} from the policy store as of audit event #{stamp.source_seq}",
            f"# ({stamp.source_hash[:16]}); recorded as audit event #{stamp.event_seq}.",
        ]
    lines += [
        f"# strict:  {len(lists[ListName.STRICT])} domains, outbound TLS with a valid "
        "certificate (CertificateValidation)",
        f"# relaxed: {len(lists[ListName.RELAXED])} domains, outbound TLS, any certificate "
        "(EncryptionOnly)",
        f"# inbound: {len(lists[ListName.INBOUND])} domains, inbound mail refused without TLS "
        "(RequireTls)",
    ]
    return lines


def render(view: Enforcement, stamp: Stamp | None) -> dict[str, str]:
    return {FILE_NAME: script(view, stamp)}


def counts(view: Enforcement) -> Mapping[str, int]:
    return {kind.value: len(domains) for kind, domains in view.lists().items()}


GATEWAY = Gateway(
    GatewayName.EXCHANGE,
    "Microsoft 365 (Exchange Online)",
    Reach.HANDOVER,
    render=render,
    counts=counts,
    file_name=FILE_NAME,
)
