"""What Powertools' Tracer adds to a cold start, against the Logger and Metrics every function loads.

Each figure is the median of fresh interpreters (``-X importtime`` is not used: ``Tracer()`` also
patches modules). The webhook must not pay the tracer before Lark's ack; the worker and the token
refresh do, once per cold start. ``layers/lark_service/observability.py`` acts on these figures.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

RUNS = 7
BASELINE = "from aws_lambda_powertools import Logger, Metrics"
CASES = {
    "Logger + Metrics (baseline)": "",
    "+ Tracer()": "from aws_lambda_powertools import Tracer; Tracer(service='bench')",
    "+ boto3, then Tracer()": "import boto3; "
    "from aws_lambda_powertools import Tracer; Tracer(service='bench')",
}
TIMER = """
import time
t0 = time.perf_counter()
{baseline}
t1 = time.perf_counter()
{case}
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def measure(case: str) -> tuple[float, float]:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", TIMER.format(baseline=BASELINE, case=case)],
            capture_output=True,
            text=True,
            check=True,
            env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
        ).stdout.split()
        samples.append((float(out[0]), float(out[1])))
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    print(f"{'case':<30} {'baseline':>10} {'added':>10}   (median of {RUNS} fresh interpreters)")
    for name, case in CASES.items():
        base, added = measure(case)
        print(f"{name:<30} {base * 1000:>8.0f}ms {added * 1000:>8.0f}ms")


if __name__ == "__main__":
    main()
