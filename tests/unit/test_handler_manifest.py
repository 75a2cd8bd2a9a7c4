"""The webhook's list of handled event types must match what the handler modules register."""

from __future__ import annotations

import importlib

from lark_service.handlers import manifest
from lark_service.router import router


def test_manifest_event_types_match_the_router() -> None:
    for module in manifest.HANDLER_MODULES:
        importlib.import_module(module)
    assert set(router.events) == set(manifest.EVENT_TYPES), (
        "handlers/manifest.py EVENT_TYPES and the registered handlers differ: "
        f"only registered {sorted(set(router.events) - manifest.EVENT_TYPES)}, "
        f"only listed {sorted(manifest.EVENT_TYPES - set(router.events))}"
    )


def test_every_handler_module_registers_something() -> None:
    for module in manifest.HANDLER_MODULES:
        loaded = importlib.import_module(module)
        registered = {fn.__module__ for fn in router.events.values()}
        assert loaded.__name__ in registered, f"{module} registers no event handler"
