"""A completed job's stems on disk: its zip (GET /api/jobs/{id}/stems.zip, one folder
named after the song) downloaded next to where it goes, then unpacked into DIR/<title>/."""

from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path, PurePosixPath

from rich.progress import Progress

from stemdeck.remote.client import Client, Job
from stemdeck.remote.errors import CONFIG_EXIT, RemoteError

CHUNK = 1 << 20


def prepare_out(out: Path) -> Path:
    """DIR made (and checked) before any job is sent, so a typo costs no separation."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RemoteError(
            f"--out {out}: cannot make the folder: {error.strerror}.", CONFIG_EXIT
        ) from error
    return out


def _inside(out: Path, name: str) -> Path:
    """Where a zip entry goes; refused when it would land outside ``out`` (the server
    names entries safely, but this is a file from the network)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    target = out.joinpath(*parts).resolve()
    if not parts or parts[0] == "/" or not target.is_relative_to(out.resolve()):
        raise RemoteError(f"The server's zip holds an entry outside its folder: {name!r}.")
    return target


def unpack(archive: Path, out: Path) -> list[Path]:
    """The zip's files written under ``out``; the top folders it filled."""
    folders: dict[Path, None] = {}
    try:
        with zipfile.ZipFile(archive) as bundle:
            for entry in bundle.infolist():
                target = _inside(out, entry.filename)
                if entry.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(entry) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK)
                relative = target.relative_to(out.resolve())
                folders[out / relative.parts[0]] = None
    except zipfile.BadZipFile as error:
        raise RemoteError(
            f"The stems' zip from the server is damaged ({error}); try again."
        ) from error
    return list(folders)


def download(client: Client, job: Job, out: Path, progress: Progress) -> list[Path]:
    """The job's stems under ``out``; the folders written (DIR/<title>)."""
    if job.status != "completed" or not job.zip_url:
        raise RemoteError(
            f"Job {job.id} is {job.status}: its stems can be downloaded once it is completed."
        )
    partial = out / f".stemdeck-{job.id}-{uuid.uuid4().hex[:8]}.zip.part"
    task = progress.add_task(f"download {job.title}", total=None)
    try:
        with client.download(job.zip_url) as response, partial.open("wb") as sink:
            length = response.headers.get("content-length")
            progress.update(task, total=int(length) if length and length.isdigit() else None)
            for chunk in response.iter_bytes(CHUNK):
                sink.write(chunk)
                progress.advance(task, len(chunk))
        return unpack(partial, out)
    finally:
        partial.unlink(missing_ok=True)
        progress.update(task, visible=False)
