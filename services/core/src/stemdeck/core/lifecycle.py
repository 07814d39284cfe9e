"""The job's life: the only code that changes a job's status, stage, attempt or error.

Every change is a named transition. Each one is a single guarded ``UPDATE … WHERE
id = :id AND status IN (…)`` (and ``AND attempts = :n`` when an attempt makes
it), so two processes racing for one row cannot both win: the loser's UPDATE
matches nothing and the call answers False. ``TRANSITIONS`` says, for every
transition, from which statuses it may start and where it leads; nothing else
moves a job.

After a transition commits, the lifecycle's listeners hear of it (a
``JobChange``). Event streams (SSE) listen there; so can anything that wants
to know a job moved.

Worker attempts own the row by number and phase: a claim bumps ``attempts``
and sets the phase (``fetching`` for a download, ``running`` for a
separation); every later write names both, so a worker the reconciler gave up
on (paused, partitioned, not dead) cannot overwrite the attempt that replaced
it. A download's attempts are counted apart from the separation's, so the
numbers alone repeat, hence the phase.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from stemdeck.core.accounts.audio_ledger import count_audio
from stemdeck.core.db import session_scope
from stemdeck.core.dedup import find_twin
from stemdeck.core.models import Job, Stem, copy_stem, utcnow
from stemdeck.core.settings import DedupScope
from stemdeck.core.states import JobStatus, Stage

log = logging.getLogger(__name__)


class Transition(StrEnum):
    accept = "accept"
    claim_download = "claim_download"
    claim_separation = "claim_separation"
    progress = "progress"
    fetched = "fetched"
    complete = "complete"
    reuse = "reuse"
    fail = "fail"
    hand_back = "hand_back"
    requeue = "requeue"
    give_up = "give_up"
    cancel = "cancel"
    remove = "remove"


_S = JobStatus
_ACTIVE = (_S.fetching, _S.running)
REMOVED = None
"""The target of ``remove``: the row (and its stems) no longer exists."""

TRANSITIONS: dict[Transition, dict[JobStatus, JobStatus | None]] = {
    # A new job (``accept``): its birth, so from no status at all.
    Transition.accept: {},
    # A worker starts an attempt: a download, or a separation.
    Transition.claim_download: {_S.queued: _S.fetching},
    Transition.claim_separation: {_S.queued: _S.running},
    # The attempt reports how far it got (stage, progress); the status stays.
    Transition.progress: {_S.fetching: _S.fetching, _S.running: _S.running},
    # The download is stored: the job waits for a separation.
    Transition.fetched: {_S.fetching: _S.queued},
    Transition.complete: {_S.running: _S.completed},
    # The same audio was already separated: done at once from the twin's stems.
    Transition.reuse: {_S.queued: _S.completed},
    Transition.fail: {phase: _S.failed for phase in _ACTIVE},
    # The worker is stopping: the attempt goes back to the queue and does not count.
    Transition.hand_back: {phase: _S.queued for phase in _ACTIVE},
    # The reconciler found the worker dead: queued again (the attempt counts) …
    Transition.requeue: {phase: _S.queued for phase in _ACTIVE},
    # … or failed, when it died too often.
    Transition.give_up: {phase: _S.failed for phase in _ACTIVE},
    Transition.cancel: {status: _S.cancelled for status in (_S.queued, *_ACTIVE)},
    Transition.remove: {status: REMOVED for status in (_S.completed, _S.failed, _S.cancelled)},
}


@dataclass(frozen=True)
class Attempt:
    """One worker's run at a job: it owns the row while ``attempts`` and the phase match."""

    job_id: str
    number: int
    phase: JobStatus


@dataclass(frozen=True)
class JobChange:
    """What a listener hears after a transition committed: which job, how it moved, and
    what the row said once it had (for logs and metrics, which must not re-read it)."""

    job_id: str
    transition: Transition
    status: JobStatus | None  # None: the job was removed
    strategy: str | None = None
    attempt: int | None = None  # the row's attempt count after the change
    error_code: str | None = None  # set by fail and give_up
    owner_id: str | None = None  # whose job: pages of a user's jobs change with it


Listener = Callable[[JobChange], None]


@dataclass(frozen=True)
class FetchedSource:
    """What the download stored: the source_* columns of the row."""

    source_key: str
    source_title: str | None
    source_sha256: str
    source_size_bytes: int
    source_format: str
    source_duration_s: float
    source_sample_rate: int
    source_channels: int


def new_job(job_id: str, strategy: str, formats: list[str], *, owner_id: str, **source: Any) -> Job:
    """A job as accepted, before anything ran, belonging to ``owner_id`` (a user's id);
    ``source`` fills the source_* columns."""
    return Job(
        id=job_id,
        owner_id=owner_id,
        status=JobStatus.queued,
        stage=Stage.waiting,
        stage_detail=None,
        progress=0.0,
        notes=[],
        strategy=strategy,
        formats=formats,
        attempts=0,
        stems=[],  # loaded now: the instance is used after its session closes
        **source,
    )


class JobLifecycle:
    def __init__(self, database_url: str, listeners: Iterable[Listener] = ()) -> None:
        self.database_url = database_url
        self._listeners = list(listeners)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # --- the API -----------------------------------------------------------------------

    def accept(self, job: Job, admit: Callable[[Session], None] | None = None) -> None:
        """Record a new job (built by ``new_job``) as queued, and count its audio toward
        its owner's day (a URL job's once ``fetched``). Listeners hear it as ``accept``:
        nobody follows a job before its id exists, but lists of its owner's jobs change.

        ``admit`` runs first in the same transaction and refuses by raising (a quota):
        the check and the new row commit together, or nothing is written."""
        if job.status != JobStatus.queued:
            raise ValueError(f"a new job starts queued, not {job.status}")
        with session_scope(self.database_url) as session:
            if admit is not None:
                admit(session)
            session.add(job)
            if job.source_duration_s is not None:
                count_audio(session, job.owner_id, job.id, job.source_duration_s)
        self._announce(
            JobChange(
                job.id, Transition.accept, JobStatus.queued, job.strategy, 0, None, job.owner_id
            )
        )

    def cancel(self, job_id: str) -> bool:
        """Stop a job that has not finished; its worker notices at its next progress write.
        A cancelled job has no stems (the caller removes their files)."""
        return self._move(
            Transition.cancel,
            job_id,
            then=lambda session: _delete_stems(session, job_id),
            finished_at=utcnow(),
            heartbeat_at=None,
            stage_detail=None,
        )

    def remove(self, job_id: str, release: Callable[[Session, Job], None]) -> bool:
        """Delete a finished job's row after ``release`` (its files) succeeded.

        ``release`` runs with the row locked and before the row goes; if it raises,
        the row stays (and is tried again later), so no row outlives its files unseen.
        """
        sources = TRANSITIONS[Transition.remove]
        with session_scope(self.database_url) as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or JobStatus(job.status) not in sources:
                return False
            release(session, job)
            strategy, attempt, owner_id = job.strategy, job.attempts, job.owner_id
            session.expunge(job)
            removed = session.execute(
                delete(Job).where(Job.id == job_id, Job.status.in_(list(sources)))
            )
            won = bool(removed.rowcount)  # type: ignore[attr-defined]
        if won:
            change = JobChange(job_id, Transition.remove, None, strategy, attempt, None, owner_id)
            self._announce(change)
        return won

    # --- a worker's attempt ------------------------------------------------------------

    def claim(self, job_id: str, phase: JobStatus) -> Attempt | None:
        """Start a new attempt at a queued job; None when it is not queued (any more)."""
        transition, stage = (
            (Transition.claim_download, Stage.downloading)
            if phase == JobStatus.fetching
            else (Transition.claim_separation, Stage.decoding)
        )
        now = utcnow()
        with session_scope(self.database_url) as session:
            row = session.execute(
                self._guarded(transition, job_id)
                .values(
                    status=phase,
                    stage=stage,
                    stage_detail=None,
                    progress=0.0,
                    attempts=Job.attempts + 1,
                    started_at=now,
                    heartbeat_at=now,
                    error=None,
                    error_code=None,
                    updated_at=now,
                )
                .returning(Job.attempts, Job.strategy, Job.owner_id)
            ).first()
        if row is None:
            log.info("job %s is gone or not queued; skipping", job_id)
            return None
        number, strategy, owner_id = row
        self._announce(JobChange(job_id, transition, phase, strategy, number, None, owner_id))
        return Attempt(job_id, number, phase)

    def progress(self, attempt: Attempt, stage: Stage, detail: str | None, fraction: float) -> bool:
        return self._move(
            Transition.progress,
            attempt,
            stage=stage,
            stage_detail=detail[:80] if detail else None,
            progress=fraction,
        )

    def beat(self, attempt: Attempt) -> bool:
        """The attempt is alive (the reconciler re-queues jobs whose heartbeat stopped)."""
        with session_scope(self.database_url) as session:
            beaten = session.execute(
                self._owned(attempt, update(Job)).values(heartbeat_at=utcnow())
            )
            return bool(beaten.rowcount)  # type: ignore[attr-defined]

    def fetched(self, attempt: Attempt, source: FetchedSource) -> bool:
        """The download is stored, and its audio counts toward the owner's day now that
        its length is known; the separation's attempts count from 1 again."""
        values = asdict(source)
        if source.source_title:
            values["source_name"] = source.source_title

        def count(session: Session) -> None:
            owner_id = session.scalar(select(Job.owner_id).where(Job.id == attempt.job_id))
            if owner_id is not None:
                count_audio(session, owner_id, attempt.job_id, source.source_duration_s)

        return self._move(
            Transition.fetched,
            attempt,
            then=count,
            stage=Stage.waiting,
            stage_detail=None,
            progress=0.0,
            attempts=0,
            heartbeat_at=None,
            **values,
        )

    def complete(
        self,
        attempt: Attempt,
        stems: Sequence[Stem],
        notes: list[str],
        gain_db: float,
        analysis: dict[str, Any] | None = None,
    ) -> bool:
        """Record the stems; a re-run replaces the previous attempt's stem rows whole.

        ``analysis``: the song's tempo, beats and key as JSON, or None when it failed."""

        def replace_stems(session: Session) -> None:
            _delete_stems(session, attempt.job_id)
            # Fresh instances per call: a rolled-back session leaves the old ones unusable.
            session.add_all([copy_stem(stem, attempt.job_id) for stem in stems])

        return self._move(
            Transition.complete,
            attempt,
            then=replace_stems,
            stage=Stage.done,
            stage_detail=None,
            progress=1.0,
            notes=notes,
            output_gain_db=gain_db,
            analysis=analysis,
            finished_at=utcnow(),
            heartbeat_at=None,
        )

    def fail(self, attempt: Attempt, code: str, message: str) -> bool:
        return self._move(Transition.fail, attempt, **_failure(code, message))

    def hand_back(self, attempt: Attempt) -> bool:
        """The worker is stopping: back to the queue, and this attempt does not count."""
        return self._move(Transition.hand_back, attempt, attempts=attempt.number - 1, **_waiting())

    # --- the reconciler ----------------------------------------------------------------

    def requeue(self, attempt: Attempt) -> bool:
        """The attempt's worker died: queue the job again (the attempt counts)."""
        return self._move(Transition.requeue, attempt, **_waiting())

    def give_up(self, attempt: Attempt, message: str) -> bool:
        return self._move(Transition.give_up, attempt, **_failure("worker_lost", message))

    # --- dedup ---------------------------------------------------------------------------

    def reuse_twin(self, job_id: str, scope: DedupScope) -> str | bool:
        """Complete a queued job from a completed job with the same audio, strategy and
        formats (of the same owner, under ``DedupScope.user``). False when there is none
        (or the job is not queued); else the job's own source key, now unused, or True
        when it had none of its own."""
        with session_scope(self.database_url) as session:
            job = session.get(Job, job_id)
            twin = find_twin(session, job, scope) if job is not None else None
            if job is None or twin is None:
                return False
            own_source = job.source_key if job.source_key != twin.source_key else None
            strategy, attempt, owner_id = job.strategy, job.attempts, job.owner_id
            won = self._update(
                session,
                self._guarded(Transition.reuse, job_id),
                **_reused(twin, job),
            )
            if won:
                _delete_stems(session, job_id)
                session.add_all([copy_stem(stem, job_id) for stem in twin.stems])
        if not won:
            return False
        change = JobChange(
            job_id, Transition.reuse, JobStatus.completed, strategy, attempt, None, owner_id
        )
        self._announce(change)
        return own_source or True

    # --- the guarded UPDATE --------------------------------------------------------------

    def _guarded(self, transition: Transition, job_id: str) -> Any:
        return update(Job).where(Job.id == job_id, Job.status.in_(list(TRANSITIONS[transition])))

    @staticmethod
    def _owned(attempt: Attempt, statement: Any) -> Any:
        return statement.where(
            Job.id == attempt.job_id,
            Job.attempts == attempt.number,
            Job.status == attempt.phase,
        )

    def _move(
        self,
        transition: Transition,
        target: Attempt | str,
        *,
        then: Callable[[Session], None] | None = None,
        **values: Any,
    ) -> bool:
        """One guarded UPDATE: by status alone for a job id, by attempt and phase for an
        attempt. ``then`` runs in the same transaction when the UPDATE won."""
        sources = TRANSITIONS[transition]
        if isinstance(target, Attempt):
            if target.phase not in sources:
                return False
            job_id, status = target.job_id, sources[target.phase]
            statement = self._owned(target, update(Job))
        else:
            job_id, (status,) = target, set(sources.values())
            statement = self._guarded(transition, job_id)
        with session_scope(self.database_url) as session:
            row = session.execute(
                statement.values(status=status, updated_at=utcnow(), **values).returning(
                    Job.strategy, Job.attempts, Job.owner_id
                )
            ).first()
            if row is not None and then is not None:
                then(session)
        if row is None:
            return False
        code = values.get("error_code")
        self._announce(
            JobChange(job_id, transition, status, row.strategy, row.attempts, code, row.owner_id)
        )
        return True

    @staticmethod
    def _update(session: Session, statement: Any, **values: Any) -> bool:
        values.setdefault("updated_at", utcnow())
        result = session.execute(statement.values(**values))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def _announce(self, change: JobChange) -> None:
        # A listener's failure must not undo or fail a change that is already committed.
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:
                log.exception("listener %r failed on %s", listener, change)


def _delete_stems(session: Session, job_id: str) -> None:
    session.execute(delete(Stem).where(Stem.job_id == job_id))


def _failure(code: str, message: str) -> dict[str, Any]:
    return {
        "error": message,
        "error_code": code,
        "stage_detail": None,
        "finished_at": utcnow(),
        "heartbeat_at": None,
    }


def _waiting() -> dict[str, Any]:
    return {"stage": Stage.waiting, "stage_detail": None, "progress": 0.0, "heartbeat_at": None}


REUSE_NOTE = "The same audio was already separated with this strategy"


def _reuse_notes(twin: Job) -> list[str]:
    """The twin's notes about the audio, and one saying its stems were reused. No note
    names another job, not even the owner's own: an answer names only the job it is
    about. The twin's own reuse note goes too (older ones named the job they reused)."""
    kept = [note for note in twin.notes or [] if not note.startswith(REUSE_NOTE)]
    return [*kept, f"{REUSE_NOTE}; its stems were reused."]


def _reused(twin: Job, job: Job) -> dict[str, Any]:
    now = utcnow()
    return {
        "status": JobStatus.completed,
        "source_key": twin.source_key,
        "stage": Stage.done,
        "stage_detail": None,
        "progress": 1.0,
        "error": None,
        "error_code": None,
        "output_gain_db": twin.output_gain_db,
        "analysis": twin.analysis,  # the same audio: the same tempo, beats and key
        "notes": _reuse_notes(twin),
        "started_at": job.started_at or now,
        "finished_at": now,
        "heartbeat_at": None,
    }
