"""tlsbot: enforce TLS on the mail a company exchanges with partner domains.

Packages, importing only downward:

- ``bot.probe``    DNS, SMTP, TLS: what a domain's or route's mail servers offer, as
                   frozen values (``model``) with one typed reader of stored results
                   (``TargetResult.from_dict``) and the sentences about them (``findings``).
                   Knows nothing of the database or Slack.
- ``bot.policy``   the policy store: routes, domain policies, change requests,
                   approvals, audit trail, the outbox, monitoring (``monitor/``) and
                   evidence from real mail (``evidence/``). Knows nothing of Slack.
- ``bot.export``   enforcement on the mail gateways (Postfix, Mimecast, Exchange
                   Online, Google Workspace), one module per gateway behind one
                   registry; reads the approved policy from ``bot.policy``.
- ``bot.slack``    the Slack app: edge checks, identity, middleware, listeners, views.
- ``bot.commands`` one module per ``tlsbot`` command, loaded lazily by ``bot.cli``.

``bot.cli``, ``bot.config`` and ``bot.clock`` (the one clock) sit at the edge.
"""

__version__ = "0.1.0"
