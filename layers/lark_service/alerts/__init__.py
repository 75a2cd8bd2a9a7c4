"""Alerts into a Lark chat: one interactive card per alert group, updated when the group resolves.

Two sources feed the same notifier: CloudWatch alarms through SNS (in AWS) and Alertmanager's
webhook (locally, or wherever Prometheus runs). Each is parsed into an ``AlertGroup``; the
notifier renders a card, posts it once and patches it afterwards, remembering the group's
message id in DynamoDB so that a redelivered notification never becomes a second card.
"""
