from __future__ import annotations

import base64
import hashlib

import pytest

from lark_service.webhook import crypto


def test_decrypts_the_documented_sample() -> None:
    assert crypto.decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"


@pytest.mark.parametrize("plain", [b"", b"x", b"{}" * 8, "héllo 世界".encode()])
def test_encrypt_round_trips(plain: bytes) -> None:
    assert crypto.decrypt("k", crypto.encrypt("k", plain)) == plain


def test_wrong_key_never_yields_the_plaintext() -> None:
    sealed = crypto.encrypt("right", b'{"a":1}')
    try:
        opened = crypto.decrypt("wrong", sealed)
    except crypto.DecryptError as exc:
        opened = str(exc).encode()
    assert opened != b'{"a":1}'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64!!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "wrong length"),
        (base64.b64encode(b"\0" * 33).decode(), "wrong length"),
    ],
)
def test_malformed_ciphertext_is_named(value: str, message: str) -> None:
    with pytest.raises(crypto.DecryptError, match=message):
        crypto.decrypt("k", value)


def test_bad_padding_is_named() -> None:
    sealed = base64.b64decode(crypto.encrypt("k", b"0123456789abcdef"))
    # Flip the last byte of the IV-adjusted final block so the padding byte is wrong.
    tampered = bytearray(sealed)
    tampered[-17] ^= 0x01
    with pytest.raises(crypto.DecryptError, match="padding"):
        crypto.decrypt("k", base64.b64encode(bytes(tampered)).decode())


def test_signature_is_sha256_over_raw_bytes() -> None:
    body = b'{"encrypt":"abc"}'
    expected = hashlib.sha256(b"1700000000" + b"nonce" + b"key" + body).hexdigest()
    assert crypto.signature("1700000000", "nonce", "key", body) == expected
    assert crypto.signature("1700000000", "nonce", "key", body + b" ") != expected


def test_card_signature_is_sha1_with_the_token() -> None:
    body = b'{"action":{}}'
    expected = hashlib.sha1(b"1" + b"n" + b"tok" + body).hexdigest()
    assert crypto.card_signature("1", "n", "tok", body) == expected


def test_same_compares_exactly() -> None:
    assert crypto.same("abc", "abc")
    assert not crypto.same("abc", "abd")
    assert not crypto.same("abc", "ab")
