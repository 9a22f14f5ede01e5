"""Enforcing the approved policy on mail gateways, behind one seam.

``model`` (what is published) → ``names`` (gateway-agnostic validation: one
:class:`~bot.export.names.Enforced` per domain, every value checked) → one
adapter per gateway in ``registry`` (``postfix`` with ``tables``, ``files`` and
the live ``netstring`` / ``snapshot`` / ``socketmap`` server; ``exchange`` and
``google``, hand-over files; ``mimecast``, profile groups kept in sync through
its API) → ``publish``, the one audited publish step. The database enters only
through ``store`` (and the gateways' own state, ``gateway_state``).
"""
