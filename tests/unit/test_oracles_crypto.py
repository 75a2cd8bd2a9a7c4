"""Lark's push cryptography checked against sources that do not share the project's code.

Every expected value here comes from outside ``lark_service``:

* Lark's published decryption sample (Open Platform docs, "Event subscription > Encrypt Key"):
  key ``test key``, ``P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=`` decrypts to ``hello world``.
* The Go SDK's own test vector: larksuite/oapi-sdk-go ``event/dispatcher/dispatcher_test.go``,
  ``TestDecryptEvent`` (key ``1212121212``) decrypts to the body ``mockEventReq`` builds in the
  same file. The Python SDK (larksuite/oapi-sdk-python) ships no tests; its algorithm is
  ``lark_oapi/core/utils/decryptor.py`` (``AESCipher``), re-implemented below as ``sdk_decrypt``.
* Signatures computed here with ``hashlib``, exactly as the SDKs do
  (oapi-sdk-python ``lark_oapi/event/dispatcher_handler.py``, ``_verify_sign``;
  oapi-sdk-go ``event/event.go``, ``Signature``, and ``card/card.go``, ``Signature``), over
  compact *and* spaced JSON bodies, because the signature covers the raw bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lark_service.webhook import crypto

DOCS_KEY = "test key"
DOCS_ENCRYPTED = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="

GO_SDK_KEY = "1212121212"
GO_SDK_ENCRYPTED = (
    "bZ3L7yh6m3Fkuffl4g+3uGjIHnhOm5fVZbKVuyT8t7tcd5ABMYm8l28/X900ZL3knZ7n+sCREu/H2WnIzft0amC7+xWqNH8o25IU63N4"
    "BnZWfHh+4hyG76QPd19vkw2bPJCx9aqxK8Nz+xqFNbk0RdgyWhmgd30jSxHtcQXAllkI7FMpGpOCteJad3bLXPDBQIV/xkCtKICCS7Z6"
    "3gakpxZCLaRZ3qCXP1fapHh+LBIupxenrU6ysc7I3nHmjmKie41IiWwS5puG4zQHhVbq6KWLcgWm/3NBZOPQy53ucMu75SXA55I7jarV"
    "LZXWUcqBGrcgE3vouWbtwgZuzmoTQl0GSh5VYSVvpW992BuGxUWj0XjPYdICJm6Cr7xouNXwMcdb7N8caVdkdSZeEnswG19qSyDoQhkl"
    "wzNGW0yiaayulBqJNjfge/G5V3401c2XaIuAeEIo+QQ4RSNpRGfnHkbu/j55FGQAGWjpuBNaIwZbaUoVP3NkGP+vM5rpEDe3sL2GN+Xs"
    "d+g9yBs7FqdMV8mXTGgLjCqjrPrke5/km76Q3Pe6KPs2YexMRG4MkSx3xUTzZnNn7zIzShPcjeSwBd2pxk6ht5N+fzueZdxl6Oo="
)
GO_SDK_PLAINTEXT = (
    '{"schema":"2.0","header":{"event_id":"f7984f25108f8137722bb63cee927e66",'
    '"event_type":"contact.user.created_v3","app_id":"cli_xxxxxxxx","tenant_key":"xxxxxxx",'
    '"create_time":"1603977298000000","token":"v"},"event":{"object":{'
    '"open_id":"ou_7dab8a3d3cdcc9da365777c7ad535d62","union_id":"on_576833b917gda3d939b9a3c2d53e72c8",'
    '"user_id":"e33ggbyz","name":"张三","employee_no":"employee_no"}},"challenge":"1212",'
    '"type":"url_verification"}'
)
"""``mockEventReq``'s body in dispatcher_test.go, the plaintext of ``TestDecryptEvent``'s vector."""

COMPACT = json.dumps({"schema": "2.0", "header": {"event_id": "e1"}}, separators=(",", ":")).encode()
SPACED = json.dumps({"schema": "2.0", "header": {"event_id": "e1"}}, indent=2).encode()


# The messages reach the caller in the 400 reply, so their words are part of the contract.
WRONG_LENGTH = r"^encrypt has the wrong length for AES-256-CBC \(IV plus whole blocks\)$"
BAD_PADDING = r"^encrypt has bad padding \(wrong Encrypt Key\?\)$"


def sdk_decrypt(key: str, encrypted: str) -> bytes:
    """``AESCipher.decrypt_str`` of the Python SDK: SHA-256 key, IV first, strip the pad byte count."""
    raw = base64.b64decode(encrypted)
    decryptor = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    return padded[: -padded[-1]]


def test_lark_docs_sample_decrypts_to_hello_world() -> None:
    assert crypto.decrypt(DOCS_KEY, DOCS_ENCRYPTED) == b"hello world"


def test_go_sdk_vector_decrypts_to_the_sdk_mock_event() -> None:
    plain = crypto.decrypt(GO_SDK_KEY, GO_SDK_ENCRYPTED)
    assert plain.decode("utf-8") == GO_SDK_PLAINTEXT


def test_the_reference_decryptor_agrees_with_the_published_samples() -> None:
    """The in-test SDK algorithm is itself checked, so it can judge ``encrypt`` below."""
    assert sdk_decrypt(DOCS_KEY, DOCS_ENCRYPTED) == b"hello world"
    assert sdk_decrypt(GO_SDK_KEY, GO_SDK_ENCRYPTED).decode() == GO_SDK_PLAINTEXT


@pytest.mark.parametrize(
    "plaintext",
    [b"", b"x", b"hello world", b"0123456789abcdef", b"0123456789abcdef!", GO_SDK_PLAINTEXT.encode()],
)
def test_encrypt_produces_what_the_sdk_decrypts(plaintext: bytes) -> None:
    iv = bytes(range(16))
    encrypted = crypto.encrypt(DOCS_KEY, plaintext, iv=iv)
    raw = base64.b64decode(encrypted)
    assert raw[:16] == iv
    assert len(raw) == 16 + (len(plaintext) // 16 + 1) * 16  # PKCS#7 always pads, a whole block if aligned
    assert sdk_decrypt(DOCS_KEY, encrypted) == plaintext


def test_encrypt_without_an_iv_uses_a_fresh_random_one() -> None:
    first, second = crypto.encrypt(DOCS_KEY, b"same"), crypto.encrypt(DOCS_KEY, b"same")
    assert base64.b64decode(first)[:16] != base64.b64decode(second)[:16]
    assert sdk_decrypt(DOCS_KEY, first) == sdk_decrypt(DOCS_KEY, second) == b"same"


def test_a_wrong_key_is_a_decrypt_error_not_garbage() -> None:
    with pytest.raises(crypto.DecryptError, match=BAD_PADDING):
        crypto.decrypt("not the key", DOCS_ENCRYPTED)


@pytest.mark.parametrize(
    ("encrypted", "fragment"),
    [
        ("not base64 at all!", r"^encrypt is not valid base64$"),
        (base64.b64encode(b"\0" * 16).decode(), WRONG_LENGTH),  # an IV and no block
        (base64.b64encode(b"\0" * 40).decode(), WRONG_LENGTH),  # not whole blocks
    ],
)
def test_malformed_ciphertext_names_the_step_that_failed(encrypted: str, fragment: str) -> None:
    with pytest.raises(crypto.DecryptError, match=fragment):
        crypto.decrypt(DOCS_KEY, encrypted)


def test_every_bad_pad_byte_is_refused() -> None:
    """A last block whose pad bytes disagree (``...\\x02\\x03``) is not valid PKCS#7."""
    key = hashlib.sha256(DOCS_KEY.encode()).digest()
    iv = bytes(16)
    for block in (b"A" * 14 + b"\x02\x03", b"A" * 15 + b"\x00", b"A" * 15 + b"\x11"):
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        encrypted = base64.b64encode(iv + encryptor.update(block) + encryptor.finalize()).decode()
        with pytest.raises(crypto.DecryptError, match=BAD_PADDING):
            crypto.decrypt(DOCS_KEY, encrypted)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    full_pad = base64.b64encode(iv + encryptor.update(b"\x10" * 16) + encryptor.finalize()).decode()
    assert crypto.decrypt(DOCS_KEY, full_pad) == b""


@pytest.mark.parametrize("body", [COMPACT, SPACED], ids=["compact", "spaced"])
def test_event_signature_is_sha256_over_the_raw_bytes(body: bytes) -> None:
    timestamp, nonce, key = "1700000000", "nonce-1", "encrypt-key"
    expected = hashlib.sha256(timestamp.encode() + nonce.encode() + key.encode() + body).hexdigest()
    assert crypto.signature(timestamp, nonce, key, body) == expected


@pytest.mark.parametrize("body", [COMPACT, SPACED], ids=["compact", "spaced"])
def test_card_signature_is_sha1_with_the_verification_token(body: bytes) -> None:
    timestamp, nonce, token = "1700000000", "nonce-1", "verification-token"
    expected = hashlib.sha1(timestamp.encode() + nonce.encode() + token.encode() + body).hexdigest()
    assert crypto.card_signature(timestamp, nonce, token, body) == expected


def test_the_two_spellings_of_one_document_sign_differently() -> None:
    """Why the pipeline must check the bytes it received, never a re-serialisation."""
    assert json.loads(COMPACT) == json.loads(SPACED)
    assert crypto.signature("1", "n", "k", COMPACT) != crypto.signature("1", "n", "k", SPACED)


def test_non_ascii_parts_are_utf8_encoded() -> None:
    body = '{"name":"张三"}'.encode()
    expected = hashlib.sha256(b"1700000000" + b"nonce" + "密钥".encode() + body).hexdigest()
    assert crypto.signature("1700000000", "nonce", "密钥", body) == expected


def test_same_compares_exactly() -> None:
    assert crypto.same("abc", "abc")
    assert not crypto.same("abc", "abd")
    assert not crypto.same("abc", "ab")
    assert not crypto.same("abc", "")
