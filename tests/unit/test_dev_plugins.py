"""``lark-service dev`` starts its plug-ins in the listed order and stops what they return."""

from __future__ import annotations

import pytest

from lark_service.devtools.local import dev
from lark_service.devtools.local.dev_plugins import alerts, metrics, sandbox, token_refresh, worker


def test_plugins_start_in_order_and_hand_back_their_stops(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[str] = []
    stops = {}
    for module in (alerts, metrics, sandbox, token_refresh, worker):
        name = module.__name__.rsplit(".", 1)[-1]

        def stop() -> None:
            pass

        stops[name] = None if name == "metrics" else stop
        monkeypatch.setattr(module, "start", lambda app, name=name: started.append(name) or stops[name])

    app = dev.LocalApp(runner=None, stack=None)  # type: ignore[arg-type]  # the fakes never touch them
    returned = dev.start_plugins(app)
    # The sandbox must come first: it sets LARK_BASE_URL before any function starts.
    assert started == ["sandbox", "metrics", "worker", "token_refresh", "alerts"]
    assert returned == [stops[name] for name in started if stops[name] is not None]
    assert "[dev] started plug-in sandbox" in capsys.readouterr().out
