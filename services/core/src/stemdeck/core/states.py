"""The job life cycle: one enum, and which states are final."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    queued = "queued"
    fetching = "fetching"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobStatus.completed, JobStatus.failed, JobStatus.cancelled})


class Stage(StrEnum):
    """What an unfinished job is doing; ``stage_detail`` names the model while separating."""

    waiting = "waiting"
    downloading = "downloading"
    decoding = "decoding"
    separating = "separating"
    encoding = "encoding"
    uploading = "uploading"
    done = "done"
