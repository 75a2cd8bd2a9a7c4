"""The functions' JSON log lines, as Powertools formats them, for assertions on their fields.

Powertools binds its handler to the ``sys.stdout`` of the moment the logger is first built, which
in a test session is some earlier test's capture; a handler with the same formatter on a buffer
sees exactly the lines the function prints.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    from lark_service.observability import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        lines.extend(json.loads(line) for line in buffer.getvalue().splitlines())
