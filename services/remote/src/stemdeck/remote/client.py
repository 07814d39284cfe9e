"""Calls to the server's REST API (its OpenAPI contract at /openapi.json): the few parts
this client reads, typed, and retries that cannot make a second job."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

import httpx

from stemdeck.remote.config import Remote
from stemdeck.remote.errors import answer_error, server_message, unreachable

USER_AGENT = "stemdeck-remote/0.1"
# What a retry may fix: the server restarting or overloaded, a proxy in front of it.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
IN_FLIGHT = "idempotency_key_in_flight"
# Creating a job reads the whole upload and checks that it decodes before answering.
CREATE_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=300.0)


@dataclass(frozen=True)
class Retries:
    attempts: int = 4  # in all, the first one included
    first_wait_s: float = 0.5  # doubled after each try, with jitter

    def wait_s(self, tried: int) -> float:
        base = self.first_wait_s * 2 ** (tried - 1)
        return float(base * random.uniform(0.75, 1.25))


@dataclass(frozen=True)
class Job:
    """The fields of JobPublic (GET /api/jobs/{id}) this client shows or acts on."""

    id: str
    status: str
    stage: str
    progress: float
    error: str | None
    error_code: str | None
    title: str
    strategy: str
    formats: list[str]
    stems: list[str]
    zip_url: str | None
    created_at: str
    raw: dict[str, Any]

    @classmethod
    def of(cls, body: dict[str, Any]) -> Job:
        source = body.get("source") or {}
        return cls(
            id=str(body["id"]),
            status=str(body["status"]),
            stage=str(body.get("stage") or ""),
            progress=float(body.get("progress") or 0.0),
            error=body.get("error"),
            error_code=body.get("error_code"),
            # As the server names the download folder: the page title, else the file's name.
            title=str(source.get("title") or PurePath(source.get("name") or body["id"]).stem),
            strategy=str(body.get("strategy") or ""),
            formats=[str(f) for f in body.get("formats") or []],
            stems=[str(stem["name"]) for stem in body.get("stems") or []],
            zip_url=body.get("zip_url"),
            created_at=str(body.get("created_at") or ""),
            raw=body,
        )

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def failure(self) -> str:
        """Why it did not complete, in the server's words."""
        why = self.error or f"it was {self.status}"
        code = f" ({self.error_code})" if self.error_code else ""
        return f"Job {self.id} ({self.title}) {self.status}: {why}{code}"


def _worth_retrying(response: httpx.Response) -> bool:
    """A 5xx, or the server still busy with this very key's first try (which a retry
    with the key answers with its result once it is done)."""
    if response.status_code in TRANSIENT_STATUSES:
        return True
    found = server_message(response) if response.status_code == 409 else None
    return found is not None and found[0] == IN_FLIGHT


class Client:
    def __init__(self, remote: Remote, retries: Retries | None = None) -> None:
        self.server = remote.server
        self.retries = retries or Retries()
        headers = {"User-Agent": USER_AGENT}
        if remote.token:
            headers["Authorization"] = f"Bearer {remote.token}"
        # Redirects are followed for downloads only (stem links point at signed URLs);
        # httpx drops the Authorization header when one leads to another host.
        self.http = httpx.Client(
            base_url=remote.server + "/",
            headers=headers,
            timeout=httpx.Timeout(60.0, connect=10.0),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.server}/{path.lstrip('/')}"

    def send(
        self,
        method: str,
        path: str,
        request: Callable[[], dict[str, Any]] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """One call, retried after a dropped connection, a timeout or a 5xx with the same
        Idempotency-Key (on POSTs), so that the server answers a retry with the job its
        first try made. ``request``: the keyword arguments of each try, made afresh (an
        upload's stream starts again). Any other refusal raises RemoteError."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        for tried in range(1, self.retries.attempts + 1):
            last = tried == self.retries.attempts
            arguments = request() if request else {}
            try:
                response = self.http.request(method, self.url(path), headers=headers, **arguments)
            except httpx.TransportError as error:
                if last:
                    raise unreachable(self.server, error) from error
            else:
                if response.status_code < 400:
                    return response
                if not _worth_retrying(response) or last:
                    raise answer_error(response)
            time.sleep(self.retries.wait_s(tried))
        raise AssertionError("unreachable: the last try returns or raises")

    def get_json(self, path: str) -> Any:
        return self.send("GET", path).json()

    def create_job(self, request: Callable[[], dict[str, Any]]) -> Job:
        """POST /api/jobs with a new Idempotency-Key, the same on every retry."""
        key = str(uuid.uuid4())

        def timed() -> dict[str, Any]:
            return request() | {"timeout": CREATE_TIMEOUT}

        return Job.of(self.send("POST", "api/jobs", timed, idempotency_key=key).json())

    def job(self, job_id: str) -> Job:
        return Job.of(self.get_json(f"api/jobs/{quote(job_id, safe='')}"))

    def jobs(self, limit: int) -> list[Job]:
        page = self.get_json(f"api/jobs?limit={limit}")
        return [Job.of(body) for body in page["data"]]

    def delete(self, job_id: str) -> None:
        self.send("DELETE", f"api/jobs/{quote(job_id, safe='')}")

    def me(self) -> dict[str, Any]:
        body: dict[str, Any] = self.get_json("api/auth/me")
        return body

    @contextmanager
    def download(self, url: str) -> Iterator[httpx.Response]:
        """A streamed GET that follows redirects (to signed file links)."""
        try:
            with self.http.stream(
                "GET", self.url(url), follow_redirects=True, timeout=httpx.Timeout(60.0)
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise answer_error(response)
                yield response
        except httpx.TransportError as error:
            raise unreachable(self.server, error) from error
