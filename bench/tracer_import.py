"""What Powertools' Tracer adds to a cold start, on what the worker's image holds.

Run with ``python -m bench.tracer_import``. Each figure is the median CPU time of fresh
``python3.12 -S`` interpreters on the worker's staged image (its requirements installed for the
Lambda platform and trimmed, everything precompiled: ``scripts/image_runtime.py``), after what the
traced functions load anyway — botocore with a client, httpx, ``lark_service.observability``. ``Tracer()``
is measured whole (import and patching), because patching imports the libraries it patches: in a
development environment with many of the X-Ray SDK's supported libraries installed, the same line
costs ten times as much, which is why this runs on the image's packages and nothing else.
``layers/lark_service/observability.py`` acts on these figures: the worker, the token refresh and
the alert notifier pay the tracer, the webhook never does, and only the two libraries the
functions call through are patched.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from pathlib import Path

from scripts import image_budget, image_runtime

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
CASES = {
    "botocore, httpx, our observability (baseline)": "",
    "+ Tracer(), every supported module patched": "from aws_lambda_powertools import Tracer; Tracer()",
    "+ Tracer(patch_modules=TRACED_MODULES)": (
        "from aws_lambda_powertools import Tracer; Tracer(patch_modules=TRACED_MODULES)"
    ),
}
TIMER = """
import time
t0 = time.process_time()
import botocore.session
botocore.session.get_session().create_client("dynamodb")
import httpx
from aws_lambda_powertools import Logger, Metrics
from lark_service.observability import TRACED_MODULES
t1 = time.process_time()
{case}
t2 = time.process_time()
print(t1 - t0, t2 - t1)
"""


def measure(python: str, deps: Path, task: Path, case: str) -> tuple[float, float]:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [python, "-S", "-c", TIMER.format(case=case)],
            capture_output=True,
            text=True,
            check=True,
            cwd=task,
            env={
                "PYTHONPATH": f"{deps}:{task}",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                # As in Lambda: the tracer is enabled, and the X-Ray SDK takes its sampling from
                # Lambda (elsewhere it would create an X-Ray client, whose model the image drops).
                "AWS_LAMBDA_FUNCTION_NAME": "bench",
                "LAMBDA_TASK_ROOT": str(task),
                "PATH": "/usr/bin:/bin",
            },
        ).stdout.split()
        samples.append((float(out[0]), float(out[1])))
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    python = image_budget.find_runtime_python(None)
    with tempfile.TemporaryDirectory(prefix="bench-tracer-") as tmp:
        deps, task = image_runtime.stage_image(
            "worker", ROOT, python, ROOT / ".tools" / "image-budget" / "wheels", Path(tmp) / "worker"
        )
        print(f"{'case':<46} {'baseline':>10} {'added':>10}   (CPU, median of {RUNS} fresh interpreters)")
        for name, case in CASES.items():
            base, added = measure(python, deps, task, case)
            print(f"{name:<46} {base * 1000:>8.0f}ms {added * 1000:>8.0f}ms")


if __name__ == "__main__":
    main()
