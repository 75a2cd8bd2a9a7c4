"""lark-service: a Lark/Feishu app on AWS Lambda.

Nothing is imported here on purpose: the webhook's cold start pays for every import, so each
module pulls in only what it needs.
"""

__version__ = "0.1.0"
