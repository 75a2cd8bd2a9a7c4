"""The composition roots: one module per function builds it from its settings, once per cold start.

Each function's ``app.py`` calls one ``build_*`` here and nothing else of the assembly, so what a
function is made of is read in one place. A module imports only what its own function runs:
``wiring.webhook`` never pulls in the HTTP client or Powertools' idempotency, so the webhook's
cold start stays small. ``wiring`` sits above every other layer and nothing imports it but the
functions and the local tools (``tests/unit/test_import_rules.py``).
"""
