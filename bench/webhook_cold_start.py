"""Webhook speed: cold start, warm crypto/parse per event, peak RSS, each against a baseline.

Cold: a fresh interpreter imports ``functions/webhook/app.py`` and acknowledges one signed,
encrypted event whose de-duplication record and message go over HTTP to a moto server; the
bytecode is compiled first (this machine may set PYTHONDONTWRITEBYTECODE, and Lambda images ship
``.pyc``). Baselines in the same run: the bare interpreter, and ``import boto3`` alone (the
floor any AWS-writing function pays). Warm: ``Webhook.verify`` (size, signature, AES, JSON,
shape, token, envelope) per event, against a bare implementation of only the crypto and JSON
steps (key derived per call, a padding object, no shape checks): the price of the checks.

Run with ``make bench``. Figures are printed, not asserted.
"""

from __future__ import annotations

import base64
import compileall
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers"))
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import padding  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402

from lark_service.config import load_settings  # noqa: E402
from lark_service.local.aws import create_stack, moto_server  # noqa: E402
from lark_service.local.samples import Credentials, function_url_event, signed_request  # noqa: E402
from lark_service.stores.dedupe import Claim  # noqa: E402
from lark_service.webhook.pipeline import Webhook  # noqa: E402
from lark_service.webhook.protocol import Request  # noqa: E402

TARGET_COLD_MS = 300.0
TARGET_WARM_US = 25.0
TARGET_RSS_MB = 80.0
COLD_RUNS = 5
WARM_EVENTS = 20_000
CREDS = Credentials(verification_token="bench-token", encrypt_key="bench-encrypt-key")

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("webhook_app", sys.argv[1] + "/functions/webhook/app.py")
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
t1 = time.perf_counter()
event = json.load(open(sys.argv[2]))
response = app.handler(event, None)
t2 = time.perf_counter()
assert response["statusCode"] == 200, response
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("BENCH " + json.dumps({"import_ms": (t1 - t0) * 1e3, "first_ms": (t2 - t1) * 1e3, "rss_mb": rss_kb / 1024}))
"""


def precompile() -> None:
    for directory in (
        ROOT / "layers",
        ROOT / "functions" / "webhook",
        Path(sysconfig.get_paths()["purelib"]),
    ):
        compileall.compile_dir(str(directory), quiet=1, workers=0)


def spawn(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return (time.perf_counter() - started) * 1e3, out.stdout


def cold(env: dict[str, str], workdir: Path) -> list[dict[str, float]]:
    results = []
    for run in range(COLD_RUNS):
        headers, body = signed_request("message", CREDS, event_id=f"bench-cold-{run}-{time.time_ns()}")
        event_file = workdir / f"event{run}.json"
        event_file.write_text(json.dumps(function_url_event("POST", "/lark/events", headers, body)))
        wall_ms, stdout = spawn(["-c", CHILD, str(ROOT), str(event_file)], env)
        figures = json.loads(next(line[6:] for line in stdout.splitlines() if line.startswith("BENCH ")))
        figures["process_ms"] = wall_ms
        results.append(figures)
    return results


class _NullDedupe:
    def claim(self, key: str, claim_id: str, expires_at: float) -> Claim:
        return Claim.CLAIMED

    def confirm(self, key: str, claim_id: str) -> None: ...

    def release(self, key: str, claim_id: str) -> None: ...

    def check(self) -> None: ...


class _NullQueue:
    def send(self, body: str) -> None: ...

    def check(self) -> None: ...


def naive_verify(request: Request, encrypt_key: str, token: str) -> dict[str, object]:
    """Only the primitives, written plainly: the floor the full verification is compared with."""
    headers = request.headers
    expected = hashlib.sha256(
        (headers["x-lark-request-timestamp"] + headers["x-lark-request-nonce"] + encrypt_key).encode()
        + request.body
    ).hexdigest()
    assert hmac.compare_digest(expected, headers["x-lark-signature"])
    raw = base64.b64decode(json.loads(request.body)["encrypt"])
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(raw[16:]) + decryptor.finalize()) + unpadder.finalize()
    doc: dict[str, object] = json.loads(plain.decode())
    header = doc["header"]
    assert isinstance(header, dict)
    assert hmac.compare_digest(header["token"], token)
    return doc


def per_event_us(fn: object, n: int) -> float:
    assert callable(fn)
    for _ in range(200):
        fn()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def warm() -> tuple[float, float, float]:
    settings = load_settings(
        {"LARK_ENCRYPT_KEY": CREDS.encrypt_key or "", "LARK_VERIFICATION_TOKEN": CREDS.verification_token}
    )
    webhook = Webhook(settings, _NullDedupe(), _NullQueue())
    headers, body = signed_request("message", CREDS, event_id="bench-warm")
    request = Request.create("POST", "/lark/events", headers, body)
    ours = per_event_us(lambda: webhook.verify(request), WARM_EVENTS)
    naive = per_event_us(
        lambda: naive_verify(request, CREDS.encrypt_key or "", CREDS.verification_token), WARM_EVENTS
    )
    full = per_event_us(lambda: webhook.handle(request), WARM_EVENTS // 4)
    return ours, naive, full


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "OVER TARGET"


def main() -> int:
    precompile()
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        stack = create_stack(endpoint, prefix="bench")
        env = {
            **os.environ,
            **stack.environ(),
            "LARK_ENCRYPT_KEY": CREDS.encrypt_key or "",
            "LARK_VERIFICATION_TOKEN": CREDS.verification_token,
            "POWERTOOLS_SERVICE_NAME": "webhook",
            "PYTHONPATH": str(ROOT / "layers"),
        }
        bare_ms = statistics.median(spawn(["-c", "pass"], env)[0] for _ in range(COLD_RUNS))
        boto3_ms = statistics.median(spawn(["-c", "import boto3"], env)[0] for _ in range(COLD_RUNS))
        runs = cold(env, Path(tmp))
    ours, naive, full = warm()
    cold_ms = statistics.median(r["import_ms"] + r["first_ms"] for r in runs)
    process_ms = statistics.median(r["process_ms"] for r in runs)
    rss = max(r["rss_mb"] for r in runs)
    print(f"webhook cold start ({COLD_RUNS} fresh processes, .pyc precompiled, AWS on moto over HTTP)")
    print(f"  import app.py                   {statistics.median(r['import_ms'] for r in runs):8.1f} ms")
    print(f"  first signed encrypted ack      {statistics.median(r['first_ms'] for r in runs):8.1f} ms")
    print(
        f"  import + first ack (median)     {cold_ms:8.1f} ms   target <= {TARGET_COLD_MS:.0f} ms: {verdict(cold_ms, TARGET_COLD_MS)}"
    )
    print(f"  whole process incl. interpreter {process_ms:8.1f} ms")
    print(f"  baseline: bare interpreter      {bare_ms:8.1f} ms")
    print(f"  baseline: `import boto3` alone  {boto3_ms:8.1f} ms")
    print(
        f"  peak RSS                        {rss:8.1f} MB   target <= {TARGET_RSS_MB:.0f} MB: {verdict(rss, TARGET_RSS_MB)}"
    )
    print(f"webhook warm, per event (best of 3 x {WARM_EVENTS})")
    print(
        f"  verify+decrypt+parse            {ours:8.1f} us   target <= {TARGET_WARM_US:.0f} us: {verdict(ours, TARGET_WARM_US)}"
    )
    print(
        f"  baseline: bare crypto+JSON      {naive:8.1f} us   (checks and envelope add {ours - naive:+.1f} us)"
    )
    print(f"  whole pipeline, null stores     {full:8.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
