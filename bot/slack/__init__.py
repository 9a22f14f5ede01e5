"""The Slack app: one AsyncApp (``app``), assembled from the parts below.

- the edge: ``server`` (HTTP and Socket Mode), ``edge`` (body, signature, the verified
  mark), ``shape`` (payloads Bolt can route), ``identity`` (only the installing team;
  a Slack Connect user is told so in one line), ``dedupe`` (retries and replays do
  nothing twice), ``middleware`` (services), ``errors`` (the one error handler)
- ``listeners/``   one module per surface, each with ``register(app)``; every listener
                   gets one :class:`~bot.slack.listeners.act.Act` and opens change
                   requests through ``act.propose``; ``commands`` holds the one table of
                   ``/tls`` subcommands (``command_text`` parses it)
- ``views/``       pure Block Kit builders over plain data (``kit``: the ``Mrkdwn`` seam)
- loading for views: ``pages`` (steps, listings, home), ``cards`` (change requests),
  ``flow`` (the setup steps), ``batch_run`` (a batch validated after the ack)
- posting: ``approval`` (requests to the approvers), ``notices`` (the outbox),
  ``replies`` (private answers), ``gateways`` (hand-overs, the Mimecast sync),
  ``monitor/`` (alerts, their buttons' redraws)
- ``services``, ``store``, ``tasks``, ``probing``, ``approvers`` (user groups, cached),
  ``schedule`` (what ``serve`` runs beside the listeners), ``tlsrpt_route``
  (``POST /tlsrpt``), ``ids`` (every callback, action and block id)
"""
