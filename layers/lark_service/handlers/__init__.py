"""The app's handlers: every module in this package registers on ``lark_service.app.app``.

``load`` imports them all — the built-in ``app_ticket`` keeper and whatever modules you add here —
so adding a handler is writing its module. The demo bot and demo card in ``demo/`` load only when
``LARK_DEMO_HANDLERS=true``: in production the message event is yours.
"""

from __future__ import annotations

import importlib
import pkgutil

DEMO_PACKAGE = f"{__name__}.demo"


def modules(*, demo: bool) -> list[str]:
    """Handler module names in import order: this package's modules, then the demos if enabled."""
    names = [
        f"{__name__}.{info.name}"
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_") and not info.ispkg
    ]
    if demo:
        package = importlib.import_module(DEMO_PACKAGE)
        names += [
            f"{DEMO_PACKAGE}.{info.name}"
            for info in pkgutil.iter_modules(package.__path__)
            if not info.name.startswith("_")
        ]
    return names


def load(*, demo: bool) -> list[str]:
    """Import every handler module once (a second call re-imports nothing) and return their names."""
    names = modules(demo=demo)
    for name in names:
        importlib.import_module(name)
    return names
