"""`lark-service invoke` as a SAM user types it, with --local-aws standing in for AWS and Lark."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import EVENTS, ROOT

CLI = [sys.executable, "-m", "lark_service.cli"]


def test_token_refresh_with_local_aws_talks_to_the_sandbox_not_lark() -> None:
    proc = subprocess.run(
        [
            *CLI,
            "invoke",
            "TokenRefreshFunction",
            "-e",
            str(EVENTS / "token_refresh_scheduled.json"),
            "-n",
            str(EVENTS / "env.json"),
            "--local-aws",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["failed"] == []
    assert result["refreshed"] >= 1
    emf = [json.loads(line) for line in proc.stdout.splitlines() if '"_aws"' in line]
    assert not [doc for doc in emf if "TokenRefreshRetry" in doc], "no retries: the sandbox answered"
