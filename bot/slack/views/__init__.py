"""Block Kit builders: pure functions from plain data to view and message dicts."""
