"""The app's handlers. ``load_all`` imports every module so it registers on the router."""

from __future__ import annotations

import importlib

from lark_service.handlers.manifest import HANDLER_MODULES


def load_all() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)
