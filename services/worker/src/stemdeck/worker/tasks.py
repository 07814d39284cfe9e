"""RQ tasks: the thin layer between the queue, the job row and the executor.

The database session is never held open while audio is processed: read the
row, close, compute, reopen to write (long inference must not pin a connection).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from sqlalchemy import delete, select

from stemdeck.core.db import session_scope
from stemdeck.core.models import Job, Stem, utcnow
from stemdeck.core.probe import AudioError, probe
from stemdeck.core.states import JobStatus, Stage
from stemdeck.core.storage import keys
from stemdeck.worker import runtime
from stemdeck.worker.executor import SeparationResult, separate_file
from stemdeck.worker.models.base import ModelError
from stemdeck.worker.progress import JobCancelled, JobProgress

log = logging.getLogger(__name__)

# Shares of the job's progress bar outside the executor.
FETCH_END = 0.02
EXECUTOR_END = 0.95


def separate_job(job_id: str) -> str:
    """Separate one job's source into stems; returns the final status."""
    rt = runtime.current()
    url = rt.settings.effective_database_url
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        if job is None or job.status != JobStatus.queued:
            log.info("job %s is gone or not queued (%s); skipping", job_id, job and job.status)
            return job.status if job else "missing"
        job.status = JobStatus.running
        job.stage = Stage.decoding
        job.attempts += 1
        job.started_at = utcnow()
        job.error = None
        strategy_name, formats = job.strategy, list(job.formats)
        source_key = job.source_key
    rt.job_changed(job_id)

    progress = JobProgress(url, job_id, on_write=lambda: rt.job_changed(job_id))
    try:
        strategy = rt.strategies[strategy_name]
        with tempfile.TemporaryDirectory(prefix=f"stemdeck-{job_id}-") as scratch:
            with rt.storage.local_path(source_key) as source_path:
                progress.update(Stage.decoding, FETCH_END, force=True)
                info = probe(source_path)
                result = separate_file(
                    source_path,
                    info,
                    strategy,
                    formats,
                    Path(scratch),
                    rt.models,
                    progress.scaled(FETCH_END, EXECUTOR_END),
                )
            progress.update(Stage.uploading, EXECUTOR_END, force=True)
            _store_outputs(job_id, result, progress)
        rt.job_changed(job_id)
    except JobCancelled:
        # Cancelling deletes the row; the API removed the files it knew of, but this
        # attempt may have written more since (stems, metadata.json): remove them all.
        log.info("job %s was cancelled; removing its files", job_id)
        rt.storage.delete_prefix(keys.job_prefix(job_id))
        return JobStatus.cancelled
    except (AudioError, ModelError) as error:
        _fail(url, job_id, str(error))
        rt.job_changed(job_id)
        return JobStatus.failed
    except Exception:
        log.exception("job %s failed unexpectedly", job_id)
        _fail(
            url,
            job_id,
            "Separation failed because of an internal error; try again, "
            "and if it keeps failing, report it with the job id.",
        )
        rt.job_changed(job_id)
        raise
    return JobStatus.completed


def _store_outputs(job_id: str, result: SeparationResult, progress: JobProgress) -> None:
    rt = runtime.current()
    storage = rt.storage
    rows: list[Stem] = []
    files = sum(len(stem.files) + 2 for stem in result.stems)
    done = 0
    for position, stem in enumerate(result.stems):
        stem_keys: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for format_id, path in stem.files.items():
            key = keys.stem(job_id, stem.name, format_id)
            storage.put_file(key, path)
            stem_keys[format_id] = key
            sizes[format_id] = path.stat().st_size
            done += 1
            progress.update(Stage.uploading, EXECUTOR_END + (1 - EXECUTOR_END) * done / files)
        waveform_key = keys.waveform(job_id, stem.name, "json")
        png_key = keys.waveform(job_id, stem.name, "png")
        storage.put_file(waveform_key, stem.waveform_json)
        storage.put_file(png_key, stem.waveform_png)
        done += 2
        rows.append(
            Stem(
                job_id=job_id,
                name=stem.name,
                position=position,
                duration_s=stem.duration_s,
                lufs=stem.lufs,
                peak_dbfs=stem.peak_dbfs,
                formats=list(stem.files),
                keys=stem_keys,
                sizes=sizes,
                waveform_key=waveform_key,
                waveform_png_key=png_key,
            )
        )
    metadata = {
        "job_id": job_id,
        "duration_s": result.duration_s,
        "notes": result.notes,
        "gain_db": result.gain_db,
        "stems": [
            {"name": r.name, "lufs": r.lufs, "peak_dbfs": r.peak_dbfs, "keys": r.keys} for r in rows
        ],
    }
    storage.put_bytes(keys.metadata(job_id), json.dumps(metadata, indent=2).encode())

    with session_scope(rt.settings.effective_database_url) as session:
        job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar()
        if job is None or job.status != JobStatus.running:
            raise JobCancelled(job_id)
        # A re-run replaces the previous attempt's rows whole.
        session.execute(delete(Stem).where(Stem.job_id == job_id))
        session.add_all(rows)
        job.status = JobStatus.completed
        job.stage = Stage.done
        job.progress = 1.0
        job.notes = result.notes
        job.output_gain_db = result.gain_db
        job.finished_at = utcnow()


def _fail(url: str, job_id: str, message: str) -> None:
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.status = JobStatus.failed
        job.error = message
        job.finished_at = utcnow()
