"""The webhook's domain: Lark's push protocol and the request pipeline.

Kept free of AWS and of the Lambda event format so every rule can be tested without I/O; the
handler in ``functions/webhook`` only translates a Function URL event into a ``Request``.
"""
