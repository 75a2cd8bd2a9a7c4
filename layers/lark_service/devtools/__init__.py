"""Tooling that runs on a laptop or in CI, never in Lambda.

The local runner, the Lark sandbox, the EMF receiver, the monitoring renderer and the
``lark-service`` command line live here, apart from the runtime package around it. Runtime
modules never import from here (``tests/unit/test_import_rules.py``), and ``.dockerignore`` keeps
the whole folder out of the function images.
"""
