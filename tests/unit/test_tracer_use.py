"""How the functions use Powertools' ``Tracer``: created once, on demand, patching only what they call.

Stands in for ``aws_lambda_powertools.Tracer`` with a recorder of the same signature
(aws-powertools/powertools-lambda-python, ``aws_lambda_powertools/tracing/tracer.py``:
``Tracer(service=None, disabled=None, auto_patch=None, patch_modules=None, provider=None)`` and
``put_annotation(key, value)``). The real tracer, with X-Ray's daemon protocol, is exercised in
``tests/integration/test_tracing.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import aws_lambda_powertools
import pytest

from lark_service import observability


class RecordingTracer:
    made: ClassVar[list[RecordingTracer]] = []

    def __init__(
        self,
        service: str | None = None,
        disabled: bool | None = None,
        auto_patch: bool | None = None,
        patch_modules: Sequence[str] | None = None,
        provider: object = None,
    ) -> None:
        self.patch_modules = patch_modules
        self.annotations: list[tuple[str, str | bool]] = []
        RecordingTracer.made.append(self)

    def put_annotation(self, key: str, value: str | bool) -> None:
        self.annotations.append((key, value))


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingTracer]:
    RecordingTracer.made = []
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", RecordingTracer)
    monkeypatch.setattr(observability, "_tracer", None)
    return RecordingTracer


def test_the_tracer_is_made_once_and_patches_only_botocore_and_httpx(
    recording: type[RecordingTracer],
) -> None:
    first = observability.tracer()
    assert observability.tracer() is first
    [made] = recording.made
    assert made is first  # type: ignore[comparison-overlap]
    assert tuple(made.patch_modules or ()) == ("botocore", "httpx")


def test_annotations_go_to_the_tracer_once_there_is_one(recording: type[RecordingTracer]) -> None:
    observability.annotate(event_id="ev-1")  # no tracer yet (the webhook): nothing is made
    assert recording.made == []
    tracer = observability.tracer()
    observability.annotate(event_id="ev-2", retried=True)
    assert tracer.annotations == [("event_id", "ev-2"), ("retried", True)]  # type: ignore[attr-defined]
