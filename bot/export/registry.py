"""Every gateway adapter, by name: the one registry the CLI, the settings check,
the Slack hand-over and the docs derive from (a test checks it against
:class:`~bot.export.gateway.GatewayName`). Adding a gateway is its module, its
tests and one line here."""

from __future__ import annotations

from collections.abc import Mapping

from bot.export import exchange, google, mimecast_sync, postfix
from bot.export.gateway import Gateway, GatewayName

GATEWAYS: Mapping[GatewayName, Gateway] = {
    GatewayName.POSTFIX: postfix.GATEWAY,
    GatewayName.MIMECAST: mimecast_sync.GATEWAY,
    GatewayName.EXCHANGE: exchange.GATEWAY,
    GatewayName.GOOGLE: google.GATEWAY,
}
