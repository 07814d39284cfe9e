"""Following jobs until they end: each job's Server-Sent Events (GET /api/jobs/{id}/events)
on a bar of its own, reconnecting when the stream drops, and polling GET /api/jobs/{id}
when streams are refused (too many open, an older server) or keep failing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
from rich.progress import Progress

from stemdeck.remote.client import TRANSIENT_STATUSES, Client, Job
from stemdeck.remote.errors import (
    CONFIG_EXIT,
    RemoteError,
    answer_error,
    server_message,
    unreachable,
)

# The server sends a keep-alive comment every STEMDECK_EVENTS_KEEPALIVE_S (15 s by
# default); a stream silent for much longer than that is dead.
READ_TIMEOUT_S = 60.0
RECONNECTS = 5  # in a row without an event, before polling instead
POLL_S = 1.0


def events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event, data) of each event in a text/event-stream body; comments skipped."""
    name, data = "message", list[str]()
    for line in response.iter_lines():
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)


def _stream(client: Client, job_id: str, seen: Callable[[Job], None]) -> Job | None:
    """The job once final, or None when the stream ended or dropped before that.
    Raises RemoteError on a refusal a reconnect would get again."""
    path = f"api/jobs/{quote(job_id, safe='')}/events"
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=10.0)
    with client.http.stream("GET", client.url(path), timeout=timeout) as response:
        if response.status_code >= 400:
            response.read()
            raise answer_error(response)
        for name, data in events(response):
            if name == "job":
                job = Job.of(json.loads(data))
                seen(job)
                if job.final:
                    return job
            elif name == "deleted":
                raise RemoteError(f"Job {job_id} was deleted while it ran.")
            elif name == "signed_out":
                found = server_message(httpx.Response(401, content=data.encode()))
                why = found[1] if found else data
                raise RemoteError(f"The server ended the sign-in: {why}", CONFIG_EXIT)
    return None


def _poll(client: Client, job_id: str, seen: Callable[[Job], None]) -> Job:
    while True:
        job = client.job(job_id)
        seen(job)
        if job.final:
            return job
        time.sleep(POLL_S)


def follow(client: Client, job_id: str, seen: Callable[[Job], None]) -> Job:
    """The job once it ends, whatever happens to the event stream on the way."""
    dropped = 0
    while dropped < RECONNECTS:
        try:
            job = _stream(client, job_id, seen)
        except httpx.TransportError:
            job = None
        except RemoteError as error:
            if error.status in TRANSIENT_STATUSES:
                job = None
            # Too many streams open (429), or a server without the events route: the
            # job is still there to poll. Other refusals are the user's to see.
            elif error.status in {404, 429}:
                break
            else:
                raise
        if job is not None:
            return job
        dropped += 1
        time.sleep(min(0.5 * 2**dropped, 5.0))
    return _poll(client, job_id, seen)


def follow_all(client: Client, jobs: list[Job], progress: Progress) -> list[Job]:
    """Every job followed at once, each on its own bar; their final states, in order."""
    tasks = {job.id: progress.add_task(f"{job.title}: {job.status}", total=1.0) for job in jobs}

    def show(job: Job) -> None:
        stage = job.stage if job.status == "running" else job.status
        progress.update(tasks[job.id], completed=job.progress, description=f"{job.title}: {stage}")

    outcomes: dict[str, Job | Exception] = {}

    def run(job_id: str) -> None:
        try:
            outcomes[job_id] = follow(client, job_id, show)
        except Exception as error:  # raised again below, in the command's own thread
            outcomes[job_id] = error

    # Daemon threads, joined a moment at a time: Ctrl-C ends the command at once, where a
    # thread pool would wait for every job to end first.
    threads = [threading.Thread(target=run, args=(job.id,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    finals = []
    for job in jobs:
        outcome = outcomes[job.id]
        if isinstance(outcome, httpx.TransportError):
            raise unreachable(client.server, outcome)
        if isinstance(outcome, Exception):
            raise outcome
        finals.append(outcome)
    return finals
