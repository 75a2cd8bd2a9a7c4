"""pytest plug-in for mutation runs: every test session shares one moto server.

mutmut starts a fresh pytest session for each mutant, so the session-scoped ``moto_endpoint``
fixture would start a moto server per mutant (about a second each, most of a mutant's cost).
``scripts/mutation.py`` starts one server for the whole run and names it in
``LARK_MUTATION_MOTO_ENDPOINT``; loaded with ``-p tests.mutation_shared_moto`` (see
``[tool.mutmut]``), this plug-in makes ``lark_service.devtools.local.aws.moto_server`` yield that endpoint
instead. It runs before any conftest imports the name. Tests keep their isolation: each stack
gets its own uniquely prefixed tables and queues. Without the variable it changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from lark_service.devtools.local import aws

ENDPOINT_VARIABLE = "LARK_MUTATION_MOTO_ENDPOINT"


@contextmanager
def _shared_moto_server(port: int | None = None) -> Iterator[str]:
    yield os.environ[ENDPOINT_VARIABLE]


if os.environ.get(ENDPOINT_VARIABLE):
    aws.moto_server = _shared_moto_server
