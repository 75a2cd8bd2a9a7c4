"""Comparing secrets that are not clean text: the comparison answers, it never raises.

On POSIX, ``os.environ`` decodes bytes that are not UTF-8 into lone surrogates (PEP 383,
``surrogateescape``), so a Verification Token set with a stray byte reaches the webhook as such
a string; a push's JSON may carry lone surrogates too (``"\\ud800"`` is valid JSON).
"""

from __future__ import annotations

import os

from lark_service.webhook import crypto


def test_a_configured_secret_with_an_undecodable_byte_still_compares() -> None:
    configured = os.fsdecode(b"token-\x80")  # what os.environ hands over for that byte
    assert configured == "token-\udc80"
    assert crypto.same(configured, "token-\udc80")
    assert not crypto.same(configured, "token-")
    assert not crypto.same(configured, "token-\ud800")


def test_a_pushed_lone_surrogate_compares_unequal() -> None:
    assert not crypto.same("token", "tok\ud800")
    assert crypto.same("tok\ud800", "tok\ud800")
