"""Talking to the Lark Open Platform: transport with metrics, auth v3, and the API client."""
