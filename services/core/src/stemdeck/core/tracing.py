"""OpenTelemetry tracing, only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Without it no tracer provider, exporter or instrumentation is imported or started, and
every helper here is a check of one module variable: tracing costs nothing unless asked
for. With it, each process (``stemdeck-api``, ``stemdeck-worker``,
``stemdeck-reconciler``: its service.name, unless ``OTEL_SERVICE_NAME`` says otherwise)
exports spans over OTLP/HTTP, and Redis and SQLAlchemy are instrumented (the API adds
FastAPI's instrumentation to its app). The exporter reads the standard ``OTEL_*``
variables (headers, timeouts, sampling).

A log line written inside a span carries its ``trace_id`` and ``span_id``
(``add_trace_ids``, in core/logs.py's chain), to go from a line to its trace.

One trace spans API → queue → worker → storage: an RQ entry carries the trace context
of the code that queued it in its meta (``queue_meta``), and the worker runs the entry
in a span that continues it (``continued_span``), so the request that submitted a job
and the worker's separation of it share a trace id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from structlog.typing import EventDict, WrappedLogger

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
# The key of an RQ entry's meta that holds the W3C trace context (traceparent, …).
META_KEY = "trace_context"

_tracer: Any = None  # an opentelemetry Tracer once start_tracing ran with an endpoint


def start_tracing(service_name: str) -> bool:
    """Export this process's spans when OTEL_EXPORTER_OTLP_ENDPOINT is set; whether it is."""
    global _tracer
    if not os.environ.get(ENDPOINT_VARIABLE):
        return False
    if _tracer is not None:
        return True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    RedisInstrumentor().instrument()
    # Wraps sqlalchemy.create_engine, which core/db.py looks up when it makes an engine.
    # Its declared range stops below SQLAlchemy 2.1, whose engine events it uses unchanged.
    SQLAlchemyInstrumentor().instrument(skip_dep_check=True)
    _tracer = trace.get_tracer("stemdeck")
    return True


def instrument_app(app: Any) -> None:
    """A span for each request to this FastAPI ``app``, while tracing is on."""
    if _tracer is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # Without a span per ASGI message (each chunk of an upload or a stem sent): noise.
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])


def queue_meta() -> dict[str, Any] | None:
    """The meta an RQ entry queued now carries, so its worker continues the current trace;
    None while tracing is off."""
    if _tracer is None:
        return None
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return {META_KEY: carrier}


@contextmanager
def continued_span(name: str, meta: Mapping[str, Any], **attributes: str) -> Iterator[None]:
    """A span for the work of an RQ entry, the child of the span that queued it (a new
    trace when the entry carries none)."""
    if _tracer is None:
        yield
        return
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    parent = extract(meta.get(META_KEY) or {})
    with _tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ):
        yield


@contextmanager
def span(name: str, **attributes: str) -> Iterator[None]:
    """A child span of the current one, for a step worth seeing on its own (storage)."""
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(name, attributes=attributes):
        yield


def add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A structlog processor: the current span's ids, while tracing is on."""
    if _tracer is None:
        return event
    from opentelemetry.trace import get_current_span

    context = get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event
