"""Monitoring alerts in Slack: Block Kit builders and the sink that posts them."""
