# tlsbot: Exchange Online connectors enforcing the approved TLS policy.
# Run it in Exchange Online PowerShell (Connect-ExchangeOnline first). Running it again
# changes nothing: it creates or updates the connectors named 'tlsbot ...' and removes
# tlsbot's connectors that are no longer needed. Then click *Mark applied* in Slack.
# Produced 2030-05-06T07:08:09Z from the policy store as of audit event #41
# (abababababababab); recorded as audit event #42.
# strict:  0 domains, outbound TLS with a valid certificate (CertificateValidation)
# relaxed: 0 domains, outbound TLS, any certificate (EncryptionOnly)
# inbound: 0 domains, inbound mail refused without TLS (RequireTls)

$ErrorActionPreference = 'Stop'

$Comment = 'Managed by tlsbot (audit event #42); changes made here are replaced by its next script.'

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

# strict: 0 domains in 0 connectors

# relaxed: 0 domains in 0 connectors

# inbound: 0 domains in 0 connectors

# tlsbot's connectors that the policy no longer needs
$keep = @()
Get-OutboundConnector | Where-Object { $_.Name -like 'tlsbot *' -and $keep -notcontains $_.Name } | ForEach-Object {
    Remove-OutboundConnector -Identity $_.Identity -Confirm:$false
    Write-Host "removed $($_.Name)"
}
$keep = @()
Get-InboundConnector | Where-Object { $_.Name -like 'tlsbot *' -and $keep -notcontains $_.Name } | ForEach-Object {
    Remove-InboundConnector -Identity $_.Identity -Confirm:$false
    Write-Host "removed $($_.Name)"
}
