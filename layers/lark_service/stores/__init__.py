"""Data access behind small classes: the domain sees methods, never boto3.

Each store raises ``DependencyError`` when AWS fails, so callers can tell "the service is
down, answer 5xx and let Lark retry" from their own logic errors without importing botocore.
"""

from __future__ import annotations


class DependencyError(RuntimeError):
    """A real dependency (DynamoDB, SQS) failed; the message names which call, not its internals."""
