from __future__ import annotations

import json
import subprocess
import sys

from lark_service.devtools.local import samples
from tests.conftest import EVENTS, ROOT


def test_fixtures_match_the_generator() -> None:
    for path, text in samples.render(EVENTS).items():
        assert path.exists(), f"{path.name} is missing: run python -m lark_service.devtools.local.samples"
        assert path.read_text() == text, (
            f"{path.name} drifted: run python -m lark_service.devtools.local.samples"
        )


def test_every_push_shape_has_a_fixture() -> None:
    names = {p.stem for p in EVENTS.glob("*.json")}
    for name in (
        "url_verification",
        "event_v2_message",
        "event_v1_app_ticket",
        "card_action_trigger",
        "card_legacy",
    ):
        assert name in names
    for name in samples.fixtures():  # the webhook's; other functions' events have their own shapes
        path = EVENTS / f"{name}.json"
        event = json.loads(path.read_text())
        assert event["version"] == "2.0"
        assert event["requestContext"]["http"]["method"] in ("GET", "POST")


def test_ack_path_imports_stay_light() -> None:
    """Neither boto3 (until a push needs it) nor lark_oapi is imported by the webhook's modules.

    Powertools touches the bare ``botocore`` package for its version string; that costs < 1 ms.
    """
    code = (
        "import sys; import lark_service.webhook.pipeline, lark_service.webhook.function_url, "
        "lark_service.stores.dedupe, lark_service.stores.queue, lark_service.observability; "
        "print(','.join(m for m in ('boto3', 'botocore.session', 'botocore.client', 'lark_oapi', 'aws_embedded_metrics', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
