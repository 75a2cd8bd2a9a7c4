"""Examples that show the whole loop on a new install; loaded only with ``LARK_DEMO_HANDLERS=true``."""
