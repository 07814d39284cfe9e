"""Turning the command line's inputs into jobs: a file is uploaded (multipart, streamed,
with a bar of the bytes sent), a URL is sent as JSON for the server to fetch."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress

from stemdeck.remote.client import Client, Job
from stemdeck.remote.errors import CONFIG_EXIT, RemoteError


@dataclass(frozen=True)
class Options:
    strategy: str | None
    formats: str | None
    callback_url: str | None

    def fields(self) -> dict[str, str]:
        chosen = {
            "strategy": self.strategy,
            "formats": self.formats,
            "callback_url": self.callback_url,
        }
        return {name: value for name, value in chosen.items() if value}


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def check_inputs(inputs: list[str]) -> list[str | Path]:
    """Every input checked before the first is sent: a typo in the third file should
    not leave two jobs behind."""
    checked: list[str | Path] = []
    for text in inputs:
        if is_url(text):
            checked.append(text)
            continue
        path = Path(text)
        if not path.is_file():
            raise RemoteError(
                f"{text}: no such file. Give audio files or http(s):// URLs to fetch.",
                CONFIG_EXIT,
            )
        checked.append(path)
    return checked


class _Counted(io.RawIOBase):
    """The file as httpx's multipart stream reads it, counting the bytes on a bar. A
    retry seeks back to the start, and the bar with it."""

    def __init__(self, path: Path, advance: Callable[[int | None], None]) -> None:
        self._file = path.open("rb")
        self._advance = advance

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = self._file.seek(offset, whence)
        if position == 0:
            self._advance(None)
        return position

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._advance(len(chunk))
        return chunk

    def close(self) -> None:
        self._file.close()
        super().close()


def upload(client: Client, path: Path, options: Options, progress: Progress) -> Job:
    task = progress.add_task(f"upload {path.name}", total=path.stat().st_size)

    def advance(sent: int | None) -> None:
        if sent is None:
            progress.reset(task, total=path.stat().st_size)
        else:
            progress.advance(task, sent)

    opened: list[_Counted] = []

    def request() -> dict[str, Any]:
        for earlier in opened:
            earlier.close()
        opened.append(_Counted(path, advance))
        return {
            "files": {"file": (path.name, opened[-1], "application/octet-stream")},
            "data": options.fields(),
        }

    try:
        return client.create_job(request)
    finally:
        for handle in opened:
            handle.close()
        progress.update(task, visible=False)


def from_url(client: Client, url: str, options: Options) -> Job:
    body = {"url": url} | options.fields()
    return client.create_job(lambda: {"json": body})


def submit_all(
    client: Client, inputs: list[str | Path], options: Options, progress: Progress
) -> list[Job]:
    """One job per input, in order; each job's id is printed as soon as it exists."""
    jobs = []
    for item in inputs:
        if isinstance(item, Path):
            job = upload(client, item, options, progress)
        else:
            job = from_url(client, item, options)
        # On stdout, alone on its line with the input, for scripts; the bars are on stderr.
        typer.echo(f"{job.id}\t{item}")
        jobs.append(job)
    return jobs
