"""Inputs that used to answer 500, each now a 4xx that says what to do (or, for a Range
the file can satisfy, the bytes): a Range of thousands of digits, a multipart boundary
over 256 characters, part headers past the parser's limits, and an offset past 64 bits.

`assert_refused` (conftest) checks the common THEN: no row, no file under the storage
root, nothing queued, and the API still answering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .conftest import StoredJob

Refused = Callable[..., dict[str, str]]

HUGE = "9" * 5000  # more digits than Python's int() takes (4300)


@pytest.fixture
def lenient_client(app: FastAPI) -> Iterator[TestClient]:
    """The app as a client sees it: a server error is a 500 answer, not a raised error."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("range_header", "status"),
    [
        (f"bytes={HUGE}-", 416),
        (f"bytes={HUGE}-{HUGE}", 416),
        (f"bytes=0-{HUGE}", 206),  # a last byte past the end means "to the end" (RFC 9110)
        (f"bytes=-{HUGE}", 206),  # so does a suffix longer than the file
    ],
)
def test_a_range_of_thousands_of_digits_is_answered_not_crashed_on(
    lenient_client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    range_header: str,
    status: int,
) -> None:
    stored = make_stored_job(stems=("vocals",), formats=("flac",), stem_bytes=5000)

    response = lenient_client.get(
        f"/api/jobs/{stored.id}/stems/vocals.flac", headers={"range": range_header}
    )

    assert response.status_code == status, response.text
    if status == 416:
        error = response.json()["error"]
        assert error["code"] == "range_not_satisfiable"
        assert "5000 bytes" in error["message"]
        assert response.headers["content-range"] == "bytes */5000"
    else:
        assert response.headers["content-range"] == "bytes 0-4999/5000"
        assert len(response.content) == 5000


@pytest.mark.parametrize("path", ["/api/jobs", "/upload"])
def test_a_multipart_boundary_over_256_characters_is_400(
    lenient_client: TestClient, assert_refused: Refused, path: str
) -> None:
    boundary = "b" * 257
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        f"RIFF\r\n--{boundary}--\r\n"
    ).encode()

    response = lenient_client.post(
        path, content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )

    error = assert_refused(response, 400, "invalid_form")
    assert "257 characters" in error["message"] and "at most 256" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        [f"X-Extra-{n}: {n}" for n in range(12)],  # more headers than any client sends
        [f"X-Long: {'a' * 8000}"],  # one header line of 8 KB
    ],
    ids=["many-part-headers", "long-part-header"],
)
def test_a_part_with_too_many_or_too_long_headers_is_400(
    lenient_client: TestClient, assert_refused: Refused, headers: list[str]
) -> None:
    """The multipart parser's per-part header limits (python-multipart >= 0.0.27)."""
    extra = "".join(f"{line}\r\n" for line in headers)
    body = (
        "--b\r\n"
        'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        f"{extra}\r\nRIFF\r\n--b--\r\n"
    ).encode()

    response = lenient_client.post(
        "/api/jobs", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )

    error = assert_refused(response, 400, "invalid_form")
    assert "Maximum header" in error["message"]


@pytest.mark.parametrize("offset", ["9223372036854775808", "9223372036854775807", "2147483648"])
def test_an_offset_past_the_documented_maximum_is_422(
    lenient_client: TestClient, offset: str
) -> None:
    response = lenient_client.get(f"/api/jobs?offset={offset}")

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "offset" in error["message"] and "2147483647" in error["message"]
    assert lenient_client.get("/api/jobs?offset=2147483647").json()["data"] == []


def test_openapi_documents_the_offset_maximum(lenient_client: TestClient) -> None:
    parameters = lenient_client.get("/openapi.json").json()["paths"]["/api/jobs"]["get"][
        "parameters"
    ]
    offset = next(p for p in parameters if p["name"] == "offset")

    assert offset["schema"]["minimum"] == 0
    assert offset["schema"]["maximum"] == 2**31 - 1
