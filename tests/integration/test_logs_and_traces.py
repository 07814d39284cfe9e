"""Log lines and traces, from the real `stemdeck api` and `stemdeck worker` processes.

GIVEN the stack writing its logs to files (so STEMDECK_LOG_FORMAT=auto picks JSON) WHEN
jobs are submitted THEN every line is one JSON object; a request's lines carry the
request_id its X-Request-ID answered; a job's lines in the worker carry job_id, attempt
and worker; the job's state changes are events of their own, in order; a failed job's
error reference is its id, and the line with that job_id has the details. With
OTEL_EXPORTER_OTLP_ENDPOINT at a receiver on loopback, the worker's span of a job is in
the trace of the API request that submitted it.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from stemdeck.api.request_ids import PATTERN
from stemdeck.core.logs import configure_logging
from stemdeck.core.public_errors import REF_PATTERN
from stemdeck.core.settings import Settings
from tests.integration.factories import short_wav
from tests.integration.stack import free_port, running_stack
from tests.waiting import wait_until

FIELDS = {"timestamp", "level", "logger", "event"}
PATTERN_RE = re.compile(PATTERN)


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a process's log, each of which must be one JSON object."""
    lines = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            raise AssertionError(f"{path.name}:{number} is not JSON: {text!r}") from None
        assert isinstance(line, dict) and line.keys() >= FIELDS, (path.name, number, line)
        lines.append(line)
    return lines


def submit(client: Any, audio: bytes, **headers: str) -> Any:
    return client.post(
        "/api/jobs",
        files={"file": ("song.wav", audio, "audio/wav")},
        data={"strategy": "four-stems-dsp", "formats": "flac"},
        headers=headers,
    )


def test_every_line_is_json_and_carries_the_ids_of_its_request_and_job(
    settings: Settings, mixture: Path
) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/song.mp3"  # nothing listens there
    with running_stack(settings, STEMDECK_INGEST_ALLOW_LOOPBACK="true") as stack:
        with stack.client() as client:
            sent = submit(client, short_wav(mixture, 3), **{"X-Request-ID": "edge-7f3a.1"})
            fresh = submit(client, short_wav(mixture, 2))
            broken = client.post("/api/jobs", json={"url": dead_url})
        for response in (sent, fresh, broken):
            assert response.status_code == 202, response.text
        job_id, url_job_id = sent.json()["id"], broken.json()["id"]
        assert stack.wait_for(job_id)["status"] == "completed"
        assert stack.wait_for(fresh.json()["id"])["status"] == "completed"
        failed = stack.wait_for(url_job_id)
    api = json_lines(stack.log_dir / "api.log")
    worker = json_lines(stack.log_dir / "worker-0.log")

    assert sent.headers["X-Request-ID"] == "edge-7f3a.1"
    assert fresh.headers["X-Request-ID"] != broken.headers["X-Request-ID"]
    for response in (sent, fresh, broken):
        request_id = response.headers["X-Request-ID"]
        (line,) = [x for x in api if x["event"] == "request" and x["request_id"] == request_id]
        assert line | {"method": "POST", "route": "/api/jobs", "status": 202} == line
        assert line["duration_ms"] > 0
    assert any(x["event"] == "request" and x["route"] == "/api/jobs/{job_id}" for x in api)

    ours = [x for x in worker if x.get("job_id") == job_id]
    assert ours and all(x["attempt"] == 1 and x["worker"] for x in ours), ours
    events = [x["event"] for x in ours if x["logger"] == "stemdeck.jobs"]
    assert events == ["job.claim_separation", "job.complete"]
    assert [x["status"] for x in ours if x["logger"] == "stemdeck.jobs"] == ["running", "completed"]

    # The failed job names itself as the reference; its log line has what went wrong.
    assert (failed["status"], failed["error_code"]) == ("failed", "download_failed")
    reference = REF_PATTERN.search(failed["error"])
    assert reference is not None and reference[1] == url_job_id, failed["error"]
    theirs = [x for x in worker if x.get("job_id") == url_job_id]
    details = [x for x in theirs if "Connection refused" in x["event"]]
    assert details and details[0]["level"] == "warning", theirs
    events = [x["event"] for x in theirs if x["logger"] == "stemdeck.jobs"]
    assert events == ["job.claim_download", "job.fail"]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """This process's log lines as JSON, in a stream; the root logger is restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging(Settings(_env_file=None, log_format="json"), out)
    yield out
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.captureWarnings(False)


def test_a_500_names_its_request_id_which_its_log_lines_carry(
    app: FastAPI, json_log: io.StringIO
) -> None:
    def broken() -> None:
        raise RuntimeError("cannot open /srv/stemdeck/secret.db")

    app.add_api_route("/api/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/broken", headers={"X-Request-ID": "lb-42"})

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "lb-42"
    assert response.json()["error"]["ref"] == "lb-42"
    assert "(Error reference lb-42:" in response.json()["error"]["message"]
    lines = [json.loads(text) for text in json_log.getvalue().splitlines()]
    ours = [line for line in lines if line.get("request_id") == "lb-42"]
    (error,) = [line for line in ours if line["level"] == "error"]
    assert "secret.db" in error["exception"] and "Traceback" in error["exception"]
    (request,) = [line for line in ours if line["event"] == "request"]
    assert (request["status"], request["route"]) == (500, "/api/broken")


@pytest.mark.parametrize(
    "sent",
    [
        b"x" * 129,  # too long
        b"abc\x01def",  # a control character
        b"caf\xc3\xa9",  # not ASCII (UTF-8)
        b"two words",
        b"",
    ],
    ids=["too-long", "control", "unicode", "space", "empty"],
)
def test_an_insane_request_id_is_replaced_never_refused(client: TestClient, sent: bytes) -> None:
    response = client.get("/health", headers=[(b"X-Request-ID", sent)])
    assert response.status_code == 200
    given = response.headers["X-Request-ID"]
    assert given.encode() != sent and PATTERN_RE.fullmatch(given), given


def test_a_request_id_sent_twice_is_replaced(client: TestClient) -> None:
    response = client.get("/health", headers=[(b"X-Request-ID", b"a1"), (b"X-Request-ID", b"b2")])
    assert response.headers["X-Request-ID"] not in {"a1", "b2"}


def test_every_answer_has_an_id_refusals_too(client: TestClient) -> None:
    """A host the server does not answer to (refused by the front door, before any route),
    an unknown route and an unknown job each get their own id."""
    answers = [
        client.get("/api/jobs", headers={"Host": "evil.example"}),
        client.get("/api/nothing-here"),
        client.get("/api/jobs/0123456789abcdef0123456789abcdef"),
    ]
    assert [answer.status_code for answer in answers] == [400, 404, 404]
    ids = {answer.headers["X-Request-ID"] for answer in answers}
    assert len(ids) == 3 and all(PATTERN_RE.fullmatch(given) for given in ids)


class OtlpReceiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver on loopback: keeps every span it is sent as
    (service.name, span name, trace id, span kind)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OtlpHandler)
        self.spans: list[tuple[str, str, str, int]] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def keep(self, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            (attributes["service.name"], span.name, span.trace_id.hex(), span.kind)
                        )

    def find(self, service: str, matches: Callable[[str], bool]) -> list[tuple[str, str, int]]:
        with self.lock:
            return [(n, t, k) for s, n, t, k in self.spans if s == service and matches(n)]


class _OtlpHandler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert self.path == "/v1/traces", self.path
        self.server.keep(ExportTraceServiceRequest.FromString(body))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def test_the_worker_continues_the_trace_of_the_request_that_submitted_the_job(
    settings: Settings, mixture: Path, otlp_receiver: OtlpReceiver
) -> None:
    with running_stack(
        settings,
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",  # ms: spans leave soon after they end
    ) as stack:
        with stack.client() as client:
            response = submit(client, short_wav(mixture, 3))
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        assert stack.wait_for(job_id)["status"] == "completed"

        def worker_span() -> list[tuple[str, str, int]]:
            return otlp_receiver.find("stemdeck-worker", lambda name: name == "separate_job")

        ((_, trace_id, _),) = wait_until(worker_span, 30, "the worker's span never came")
        submitted = wait_until(
            lambda: otlp_receiver.find("stemdeck-api", lambda name: name == "POST /api/jobs"),
            30,
            "the API's span of the upload never came",
        )

    assert {trace for _, trace, _ in submitted} == {trace_id}
    in_trace = {
        (service, name) for service, name, trace, _ in otlp_receiver.spans if trace == trace_id
    }
    worker_names = {name for service, name in in_trace if service == "stemdeck-worker"}
    # The database and Redis calls of both sides, and the worker's storage, in the trace.
    assert "storage.store_outputs" in worker_names, in_trace
    assert any(name.startswith(("SELECT", "UPDATE")) for name in worker_names), in_trace
    # The job's changes, marked and announced in one pipeline.
    assert any(name.endswith("PUBLISH") for name in worker_names), in_trace
    # The worker's log lines of the job name the trace they belong to.
    job_lines = [x for x in json_lines(stack.log_dir / "worker-0.log") if x.get("job_id") == job_id]
    assert job_lines and {x["trace_id"] for x in job_lines} == {trace_id}, job_lines
    api_names = {name for service, name in in_trace if service == "stemdeck-api"}
    assert any(name.startswith("INSERT") for name in api_names), in_trace
    assert any("RPUSH" in name.split() for name in api_names), in_trace  # the queue entry


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_passing_probes_stay_out_of_the_access_log_at_info(settings: Settings, level: str) -> None:
    """GIVEN the real API process WHEN /health and /ready are probed (Compose's healthcheck
    asks every 10 s) THEN at INFO they write no request line while other requests do; at
    DEBUG they show, as debug lines."""
    with (
        running_stack(settings, workers=0, STEMDECK_LOG_LEVEL=level) as stack,
        stack.client() as client,
    ):
        probes = [client.get("/health") for _ in range(3)] + [client.get("/ready")]
        asked = client.get("/api/strategies")
    assert [r.status_code for r in [*probes, asked]] == [200] * 5, probes[-1].text
    requests = [x for x in json_lines(stack.log_dir / "api.log") if x["event"] == "request"]

    ours = [x for x in requests if x["route"] == "/api/strategies"]
    assert [x["level"] for x in ours] == ["info"]
    probe_lines = [x for x in requests if x["route"] in {"/health", "/ready"}]
    if level == "INFO":
        assert requests == ours
    else:
        # Ours, and the stack's own /health polls while it waited for the API to start.
        assert {x["route"] for x in probe_lines} == {"/health", "/ready"}
        assert {x["level"] for x in probe_lines} == {"debug"}
