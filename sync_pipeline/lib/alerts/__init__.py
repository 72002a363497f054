"""Alerts to people: what to say (messages), where (channels: Slack, any webhook), and never losing one (outbox)."""
