"""What each `stemdeck remote` command does, once its arguments are parsed (cli.py
parses them and imports this only when a command runs: httpx and rich are not loaded
at every `stemdeck` start)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from stemdeck.remote import config
from stemdeck.remote.client import Client, Job
from stemdeck.remote.config import Remote
from stemdeck.remote.download import download as download_stems
from stemdeck.remote.download import prepare_out
from stemdeck.remote.errors import FAILED_EXIT, RemoteError
from stemdeck.remote.follow import follow_all
from stemdeck.remote.submit import Options, check_inputs, submit_all


def _progress() -> Progress:
    # On stderr: stdout carries what scripts read (job ids, JSON).
    return Progress(console=Console(stderr=True))


def login(remote: Remote) -> None:
    with Client(remote) as client:
        me = client.me()
    path = config.save(remote)
    who = me.get("user", {}).get("email", "?")
    typer.echo(f"Logged in to {remote.server} as {who}; saved in {path}")


def submit(
    remote: Remote, inputs: list[str], options: Options, wait: bool, out: Path | None
) -> None:
    checked = check_inputs(inputs)
    if out is not None:
        prepare_out(out)
    failures = []
    with Client(remote) as client, _progress() as progress:
        jobs = submit_all(client, checked, options, progress)
        if not (wait or out is not None):
            return
        for job in follow_all(client, jobs, progress):
            if job.status != "completed":
                failures.append(job.failure())
            elif out is not None:
                for folder in download_stems(client, job, out, progress):
                    progress.console.print(f"{job.id}: stems in {folder}")
    if failures:
        raise RemoteError("\n".join(failures), FAILED_EXIT)


def summary(job: Job) -> str:
    lines = [
        f"{job.id}  {job.status}" + (f" ({job.stage})" if job.status == "running" else ""),
        f"  title:     {job.title}",
        f"  progress:  {job.progress:.0%}",
        f"  strategy:  {job.strategy}",
        f"  formats:   {', '.join(job.formats)}",
        f"  created:   {job.created_at}",
    ]
    if job.stems:
        lines.append(f"  stems:     {', '.join(job.stems)}")
    if job.status in {"failed", "cancelled"}:
        lines.append(f"  error:     {job.error or '-'} ({job.error_code or 'no code'})")
    return "\n".join(lines)


def status(remote: Remote, job_id: str, as_json: bool) -> None:
    with Client(remote) as client:
        job = client.job(job_id)
    typer.echo(json.dumps(job.raw, indent=2) if as_json else summary(job))


def download(remote: Remote, job_id: str, out: Path) -> None:
    prepare_out(out)
    with Client(remote) as client, _progress() as progress:
        for folder in download_stems(client, client.job(job_id), out, progress):
            typer.echo(str(folder))


def list_jobs(remote: Remote, limit: int) -> None:
    with Client(remote) as client:
        jobs = client.jobs(limit)
    rows: list[tuple[Any, ...]] = [
        (job.id, job.status, f"{job.progress:.0%}", job.created_at[:19], job.title) for job in jobs
    ]
    if not sys.stdout.isatty():
        for row in rows:
            typer.echo("\t".join(row))
        return
    table = Table("id", "status", "progress", "created", "title")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def delete(remote: Remote, job_id: str) -> None:
    with Client(remote) as client:
        before = client.job(job_id)
        client.delete(job_id)
    if before.final:
        typer.echo(f"deleted {job_id}")
    else:
        typer.echo(f"cancelled {job_id} (it was {before.status}); delete it again to remove it")
