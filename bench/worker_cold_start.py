"""Cold start of the worker and token refresh functions, against a Powertools-only baseline.

Each figure is a fresh interpreter importing the function module (which builds everything it
holds at cold start), with bytecode precompiled as in the images. Prints medians in ms.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7

ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "LARK_APP_ID": "cli_bench",
    "LARK_APP_SECRET": "bench-secret",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
    "TOKEN_TABLE": "bench-tokens",
    "EVENTS_QUEUE_URL": "http://127.0.0.1:1/queue/bench",
    "POWERTOOLS_SERVICE_NAME": "bench",
}

CASES = {
    "baseline: Powertools Logger + Metrics": "from aws_lambda_powertools import Logger, Metrics",
    "worker function module": f"import runpy; runpy.run_path({str(ROOT / 'functions/worker/app.py')!r})",
    "token_refresh function module": f"import runpy; runpy.run_path({str(ROOT / 'functions/token_refresh/app.py')!r})",
}

PROBE = """
import sys, time
t = time.perf_counter()
{code}
elapsed = (time.perf_counter() - t) * 1000
assert "lark_oapi" not in sys.modules, "lark_oapi was imported"
print(f"{{elapsed:.1f}}")
"""


def measure(code: str, env: dict[str, str]) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(code=code)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, **ENV, "PYTHONPYCACHEPREFIX": cache, "PYTHONPATH": str(ROOT / "layers")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for path in [*sys.path[1:], str(ROOT / "layers"), str(ROOT / "functions")]:
            if Path(path).is_dir():
                subprocess.run(
                    [sys.executable, "-m", "compileall", "-q", path],
                    env=env,
                    check=False,
                    capture_output=True,
                )
        figures = {name: measure(code, env) for name, code in CASES.items()}
    baseline = figures["baseline: Powertools Logger + Metrics"]
    print(f"cold import, median of {RUNS} runs (ms)")
    for name, value in figures.items():
        print(f"  {name:<42} {value:8.1f}   +{value - baseline:7.1f} over baseline")


if __name__ == "__main__":
    main()
