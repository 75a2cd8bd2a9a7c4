"""How fast the EMF receiver takes lines, against plain ``json.loads`` of the same lines.

The receiver sits behind every function's output in ``lark-service dev``; it must keep up with
far more lines than a laptop run produces. Prints lines per second for: json.loads alone (the
floor any EMF parser pays), ``Receiver.feed_line`` in-process, and the same over TCP.
"""

from __future__ import annotations

import json
import socket
import time

from lark_service.devtools.exporter.receiver import Receiver
from lark_service.devtools.exporter.sources import Sources, wait_until

LINES = 20_000
SAMPLE = (
    '{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"LarkService",'
    '"Dimensions":[["method","endpoint"]],"Metrics":[{"Name":"ApiRequestDuration","Unit":"Seconds"}]}]},'
    '"method":"POST","endpoint":"/open-apis/im/v1/messages","ApiRequestDuration":[0.042]}'
)
LOG = '{"level":"INFO","location":"handler:12","message":"event enqueued","service":"webhook"}'


def rate(seconds: float) -> str:
    return f"{LINES / seconds:>10,.0f} lines/s"


def main() -> None:
    lines = [SAMPLE if i % 2 == 0 else LOG for i in range(LINES)]
    start = time.perf_counter()
    for line in lines:
        json.loads(line)
    baseline = time.perf_counter() - start

    receiver = Receiver()
    start = time.perf_counter()
    for line in lines:
        receiver.feed_line(line)
    in_process = time.perf_counter() - start

    receiver = Receiver()
    sources = Sources(receiver)
    port = sources.listen_tcp("127.0.0.1", 0)
    payload = "".join(line + "\n" for line in lines).encode()
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(payload)

    def done() -> bool:
        got = receiver.registry.get_sample_value("emf_receiver_ignored_lines_total") or 0
        return got >= LINES // 2

    assert wait_until(done, 60, interval=0.01)
    over_tcp = time.perf_counter() - start
    sources.close()

    print(f"{LINES} lines, half EMF and half ordinary log lines")
    print(f"  json.loads only (baseline) {rate(baseline)}")
    print(
        f"  Receiver.feed_line         {rate(in_process)}  ({in_process / baseline:.1f}x the baseline's time)"
    )
    print(f"  over TCP (agent protocol)  {rate(over_tcp)}")


if __name__ == "__main__":
    main()
