"""A local AWS: moto's server in a child process, and the resources template.yaml declares.

The tests and ``lark-service dev`` share this so that what runs locally is shaped like the
stack (same keys, TTL attributes, redrive policy) and talks real HTTP to a real endpoint.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}

MAX_RECEIVE_COUNT = 5  # as template.yaml's RedrivePolicy


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback URL we built
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s") from exc
            time.sleep(0.05)


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Run ``moto.server`` in its own process (its own GIL) and yield its endpoint URL."""
    port = port or free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **FAKE_CREDENTIALS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{endpoint}/moto-api/")
        yield endpoint
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """Ask a child server to stop, and make sure it has: no test or runner leaves one behind."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


@dataclass(frozen=True)
class Stack:
    """Names of the local resources, as the functions' environment expects them."""

    endpoint: str
    events_queue_url: str
    dead_letter_queue_url: str
    idempotency_table: str
    token_table: str

    def environ(self) -> dict[str, str]:
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "EVENTS_QUEUE_URL": self.events_queue_url,
            "EVENTS_DLQ_URL": self.dead_letter_queue_url,
            "IDEMPOTENCY_TABLE": self.idempotency_table,
            "TOKEN_TABLE": self.token_table,
        }


def _client(service: str, endpoint: str) -> Any:
    import boto3  # noqa: PLC0415

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
    )


def create_stack(endpoint: str, prefix: str = "lark-service-local") -> Stack:
    """Create the tables and queues of template.yaml on a moto endpoint (idempotent)."""
    ddb = _client("dynamodb", endpoint)
    for name, key, ttl in ((f"{prefix}-idempotency", "id", "expiration"), (f"{prefix}-tokens", "pk", "ttl")):
        try:
            ddb.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            )
        except ddb.exceptions.ResourceInUseException:
            continue
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
    sqs = _client("sqs", endpoint)
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-events",
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
        },
    )["QueueUrl"]
    return Stack(endpoint, queue_url, dlq_url, f"{prefix}-idempotency", f"{prefix}-tokens")
