"""Evidence from real mail: Postfix's delivery log (outbound) and TLS-RPT reports (inbound).

Pure parsers (:mod:`.postfix_log`, :mod:`.tlsrpt`) and their store
(:mod:`.traffic`, :mod:`.reports`); nothing here knows Slack.
"""
