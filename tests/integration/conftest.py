"""Integration fixtures: moto's server in its own process, and a fresh stack per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from lark_service.devtools.exporter.receiver import Receiver
from lark_service.devtools.exporter.sources import Sources
from lark_service.devtools.local.aws import Stack, create_stack, moto_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """Tables and queues of template.yaml under a unique prefix, wired into the environment."""
    created = create_stack(moto_endpoint, prefix=f"t{uuid.uuid4().hex[:10]}")
    for name, value in created.environ().items():
        monkeypatch.setenv(name, value)
    return created


@pytest.fixture
def emf_receiver() -> Iterator[tuple[Receiver, Sources]]:
    """An EMF receiver with no inputs yet; the test opens the ones it needs, all closed after it."""
    receiver = Receiver()
    sources = Sources(receiver)
    try:
        yield receiver, sources
    finally:
        sources.close()
        receiver.stop()
