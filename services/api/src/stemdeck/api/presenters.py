"""Database rows → response bodies, with the URLs a client follows next."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from stemdeck.api.deps import get_context
from stemdeck.api.errors import REFUSAL_STATUS
from stemdeck.api.schemas import AnalysisPublic, JobPublic, SourcePublic, StemPublic
from stemdeck.api.standings import standing_of
from stemdeck.api.urls import RouteUrls, route_urls
from stemdeck.core.backlog import Standing
from stemdeck.core.models import Job, Stem
from stemdeck.core.states import JobStatus, Stage

log = logging.getLogger(__name__)


def stem_public(urls: RouteUrls, job: Job, stem: Stem) -> StemPublic:
    audio = {fmt: urls("stem_audio", job_id=job.id, stem=stem.name, fmt=fmt) for fmt in stem.keys}
    return StemPublic(
        name=stem.name,
        duration_s=stem.duration_s,
        lufs=stem.lufs,
        peak_dbfs=stem.peak_dbfs,
        formats=list(stem.keys),
        sizes=dict(stem.sizes),
        urls=audio,
        download_urls={fmt: f"{url}?download=1" for fmt, url in audio.items()},
        waveform_url=urls("waveform", job_id=job.id, stem=stem.name, kind="json"),
        waveform_png_url=urls("waveform", job_id=job.id, stem=stem.name, kind="png"),
    )


def analysis_public(job_id: str, stored: dict[str, Any] | None) -> AnalysisPublic | None:
    """The job's analysis as stored by the worker; None (logged) if it does not fit the
    schema, so a bad row costs the job its analysis, not its whole answer."""
    if stored is None:
        return None
    try:
        return AnalysisPublic.model_validate(stored)
    except ValidationError as error:
        log.warning("job %s: stored analysis left out (%s)", job_id, error)
        return None


def strategy_label(request: Request, name: str) -> str | None:
    strategy = get_context(request).strategies.get(name)
    return strategy.label if strategy is not None else None


def job_public(request: Request, job: Job, standing: Standing | None = None) -> JobPublic:
    """``standing``: read for this job alone when not given (api/standings.py)."""
    completed = job.status == JobStatus.completed
    if standing is None:
        standing = standing_of(request, job)
    urls = route_urls(request)
    return JobPublic(
        id=job.id,
        url=urls("read_job", job_id=job.id),
        owner_id=job.owner_id,
        status=JobStatus(job.status),
        stage=Stage(job.stage),
        stage_detail=job.stage_detail,
        progress=min(1.0, max(0.0, job.progress or 0.0)),
        eta_seconds=standing.eta_seconds,
        queue_position=standing.queue_position,
        estimated_start_s=standing.estimated_start_s,
        error=job.error,
        error_code=job.error_code,
        error_status=REFUSAL_STATUS.get(job.error_code) if job.error_code else None,
        notes=list(job.notes or []),
        gain_db=job.output_gain_db,
        strategy=job.strategy,
        strategy_label=strategy_label(request, job.strategy),
        formats=list(job.formats),
        attempts=job.attempts,
        created_at=job.created_at,
        updated_at=job.updated_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        source=SourcePublic(
            name=job.source_name,
            url=job.source_url,
            title=job.source_title,
            sha256=job.source_sha256,
            size_bytes=job.source_size_bytes,
            duration_s=job.source_duration_s,
            format=job.source_format,
            sample_rate=job.source_sample_rate,
            channels=job.source_channels,
        ),
        stems=[stem_public(urls, job, stem) for stem in job.stems],
        zip_url=urls("stems_zip", job_id=job.id) if completed else None,
        callback_url=job.callback_url,
        batch_id=job.batch_id,
        analysis=analysis_public(job.id, job.analysis) if completed else None,
    )
