"""Drill fixtures: the fault proxy in front of moto, and the webhook's clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.drills.fault_proxy import FaultProxy, fault_proxy


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with fault_proxy(moto_endpoint) as running:
        yield running


# The Lark sandbox and the functions' environment, as the worker's own tests set them up.
from tests.integration.lark.conftest import lark_env, sandbox  # noqa: E402, F401
