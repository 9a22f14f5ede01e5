"""tlsbot: enforce TLS on the mail a company exchanges with partner domains.

Layers, importing only downward: ``bot.probe`` (DNS, SMTP, TLS) ← ``bot.policy``
(store, approvals, audit, export) ← ``bot.slack`` (listeners and views).
``bot.cli`` and ``bot.config`` sit at the edge.
"""

__version__ = "0.1.0"
