"""The transliterated naming and window functions against prometheus/cloudwatch_exporter's own examples.

Every expected value below is copied from the exporter's repository, not derived from our code:
``README.md`` ("The above config will export time series such as ...") and
``src/test/java/io/prometheus/cloudwatch/CloudWatchCollectorTest.java`` (the names and label
lists passed to ``registry.getSampleValue``) and ``GetMetricStatisticsDataGetterTest`` semantics
as written in ``GetMetricStatisticsDataGetter.metricStatisticsRequestBuilder``.
"""

from __future__ import annotations

import pytest

from lark_service.devtools.exporter.cloudwatch_semantics import Value, get_metric_statistics, round_start
from lark_service.metrics import cloudwatch_exporter as exporter


@pytest.mark.parametrize(
    ("namespace", "metric", "statistic", "series"),
    [
        # README.md: aws_elb_request_count_sum{job="aws_elb",instance="",load_balancer_name=...}
        ("AWS/ELB", "RequestCount", "Sum", "aws_elb_request_count_sum"),
        # CloudWatchCollectorTest: testMetricPeriod and testAllStatistics
        ("AWS/ELB", "RequestCount", "Average", "aws_elb_request_count_average"),
        ("AWS/ELB", "RequestCount", "Maximum", "aws_elb_request_count_maximum"),
        ("AWS/ELB", "RequestCount", "Minimum", "aws_elb_request_count_minimum"),
        ("AWS/ELB", "RequestCount", "SampleCount", "aws_elb_request_count_sample_count"),
        # testTimestamps: HTTPCode_Backend_2XX
        ("AWS/ELB", "HTTPCode_Backend_2XX", "Average", "aws_elb_httpcode_backend_2_xx_average"),
        # testExtendedStatistics: p95 and p99.99
        ("AWS/ELB", "Latency", "p95", "aws_elb_latency_p95"),
        ("AWS/ELB", "Latency", "p99.99", "aws_elb_latency_p99_99"),
        # testDynamoIndexDimensions: OnlineIndexConsumedWriteCapacity
        (
            "AWS/DynamoDB",
            "OnlineIndexConsumedWriteCapacity",
            "Sum",
            "aws_dynamodb_online_index_consumed_write_capacity_sum",
        ),
        ("AWS/DynamoDB", "ConsumedReadCapacityUnits", "Sum", "aws_dynamodb_consumed_read_capacity_units_sum"),
    ],
)
def test_series_names_match_the_exporters_examples(
    namespace: str, metric: str, statistic: str, series: str
) -> None:
    assert exporter.series_name(namespace, metric, statistic) == series


@pytest.mark.parametrize(
    ("namespace", "job"),
    [("AWS/ELB", "aws_elb"), ("AWS/DynamoDB", "aws_dynamodb")],  # the tests' {"job", ...} values
)
def test_the_job_label_is_the_lower_cased_namespace(namespace: str, job: str) -> None:
    assert exporter.job_name(namespace) == job


def test_labels_are_job_instance_then_each_dimension_snake_cased() -> None:
    # CloudWatchCollectorTest.testDimensions: {"job", "instance", "availability_zone", "load_balancer_name"}
    labels = exporter.sample_labels("AWS/ELB", [("AvailabilityZone", "a"), ("LoadBalancerName", "myLB")])
    assert labels == [
        ("job", "aws_elb"),
        ("instance", ""),
        ("availability_zone", "a"),
        ("load_balancer_name", "myLB"),
    ]
    # testDynamoIndexDimensions: {"job", "instance", "table_name", "global_secondary_index_name"}
    assert [
        name
        for name, _ in exporter.sample_labels(
            "AWS/DynamoDB", [("TableName", "t"), ("GlobalSecondaryIndexName", "i")]
        )
    ] == [
        "job",
        "instance",
        "table_name",
        "global_secondary_index_name",
    ]


def test_our_namespace_is_lower_cased_not_split() -> None:
    """``LarkService`` → ``larkservice_``: the mistake the first rules made (``lark_service_``)."""
    assert exporter.series_name("LarkService", "ApiRequests", "Sum") == "larkservice_api_requests_sum"
    assert (
        exporter.series_name("LarkService", "ApiRequestDuration", "p95")
        == "larkservice_api_request_duration_p95"
    )
    assert exporter.job_name("LarkService") == "larkservice"
    assert exporter.label_name("event_type") == "event_type"
    assert exporter.label_name("service") == "service"


def test_safe_names_merge_underscores_and_keep_colons_only_in_series_names() -> None:
    assert exporter.safe_name("a/b__c:d") == "a_b_c:d"
    assert exporter.safe_label_name("a/b__c:d") == "a_b_c_d"


def test_the_request_window_ends_delay_before_the_scrape_and_spans_range() -> None:
    # metricStatisticsRequestBuilder: endTime = start - 1000*delay; startTime = start - 1000*(delay+range)
    timing = exporter.Timing(
        period_seconds=100, range_seconds=200, delay_seconds=300
    )  # testMetricPeriod's values
    assert exporter.request_window(1_000_000, timing) == (1_000_000 - 500_000, 1_000_000 - 300_000)


def test_only_the_newest_datapoint_is_exported() -> None:
    points = [
        exporter.Datapoint(1000, {"Sum": 1.0}),
        exporter.Datapoint(3000, {"Sum": 3.0}),
        exporter.Datapoint(2000, {"Sum": 2.0}),
    ]
    assert exporter.newest(points) == points[1]
    assert exporter.newest([]) is None
    stamped = exporter.Timing(set_timestamp=True)
    assert exporter.sample_timestamp_ms(points[1], stamped) == 3000
    assert exporter.sample_timestamp_ms(points[1], exporter.Timing(set_timestamp=False)) is None


def test_cloudwatch_rounds_the_start_down_to_the_minute_and_buckets_by_period() -> None:
    # GetMetricStatistics reference: "12:32:34 is rounded down to 12:32:00"
    twelve_32_34 = ((12 * 60 + 32) * 60 + 34) * 1000
    assert round_start(twelve_32_34, 60) == ((12 * 60 + 32) * 60) * 1000
    values = [Value(61_000, 1.0), Value(62_000, 2.0), Value(125_000, 5.0), Value(185_000, 9.0)]
    points = get_metric_statistics(values, 90_000, 180_000, 60, ["Sum", "SampleCount"])
    # start 90 s rounds to 60 s; end 180 s is exclusive
    assert [(p.timestamp_ms, p.statistics) for p in points] == [
        (60_000, {"Sum": 3.0, "SampleCount": 2.0}),
        (120_000, {"Sum": 5.0, "SampleCount": 1.0}),
    ]
    # Standard resolution: a minute is one stored aggregate, read whole once it starts before
    # EndTime (MetricDatum.StorageResolution: "60 ... which CloudWatch stores at 1-minute resolution").
    whole = get_metric_statistics(values, 90_000, 121_000, 60, ["Sum", "SampleCount"])
    assert [(p.timestamp_ms, p.statistics) for p in whole][-1] == (120_000, {"Sum": 5.0, "SampleCount": 1.0})
    assert get_metric_statistics(values, 90_000, 120_000, 60, ["Sum"])[-1].timestamp_ms == 60_000
    assert get_metric_statistics([Value(0, v) for v in range(1, 101)], 0, 60_000, 60, ["p95", "p99"])[
        0
    ].statistics == {
        "p95": 95.0,
        "p99": 99.0,
    }
