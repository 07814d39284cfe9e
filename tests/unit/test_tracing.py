"""Tracing costs nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set: no tracer provider,
exporter or instrumentation is imported or started. (Spans through real processes:
tests/integration/test_logs_and_traces.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

# The API's app and the worker's tasks imported, tracing asked for, a queue entry's meta
# made and a job span opened, as the processes do; then what got imported. (FastAPI and
# redis-py import parts of OpenTelemetry for their own telemetry, off without a provider.)
PROGRAM = """
import sys
from opentelemetry import trace
from stemdeck.api.app import create_app
from stemdeck.core import tracing
from stemdeck.worker import tasks
assert tracing.start_tracing("stemdeck-test") is False
assert tracing.queue_meta() is None
with tracing.continued_span("separate_job", {}), tracing.span("storage.store_outputs"):
    pass
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
heavy = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation")
print(sorted(name for name in sys.modules if name.startswith(heavy)))
"""


def test_without_an_endpoint_no_tracing_part_is_imported_or_started() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
