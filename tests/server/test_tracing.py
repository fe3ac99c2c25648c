"""The SDK's complaints as JSON log lines: the first of each kind, then one a minute at most.

(Spans themselves are tested against a real OTLP receiver in tests/integration/test_tracing.py.)
"""

from __future__ import annotations

import logging

from structlog.testing import capture_logs

from quanze.server import tracing


def test_the_sdks_complaints_are_logged_once_a_minute_with_a_count_of_those_left_out() -> None:
    now = [1000.0]
    handler = tracing._SdkLog(clock=lambda: now[0])
    sdk = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")

    def complain(message: str, *args: object) -> None:
        handler.handle(sdk.makeRecord(sdk.name, logging.WARNING, __file__, 1, message, args, None))

    transient = "Transient error %s encountered while exporting traces to %s"
    with capture_logs() as lines:
        complain(transient, "UNAVAILABLE", "otel:4317")
        complain(transient, "UNAVAILABLE", "otel:4317")
        complain("Queue full, dropping %s.", "Span")  # another kind: logged at once
        now[0] += tracing.SDK_LOG_EVERY_SECONDS - 1
        complain(transient, "DEADLINE_EXCEEDED", "otel:4317")
        now[0] += 1
        complain(transient, "UNAVAILABLE", "otel:4317")
    assert [(line["event"], line["problem"], line["left_out"]) for line in lines] == [
        (
            "tracing_export_problem",
            "Transient error UNAVAILABLE encountered while exporting traces to otel:4317",
            0,
        ),
        ("tracing_export_problem", "Queue full, dropping Span.", 0),
        (
            "tracing_export_problem",
            "Transient error UNAVAILABLE encountered while exporting traces to otel:4317",
            2,
        ),
    ]
    assert {line["source"] for line in lines} == {sdk.name}
