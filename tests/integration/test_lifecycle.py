"""The job lifecycle on real Postgres: every (status, transition) pair, and what moves write."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from stemdeck.core.accounts.users import add_user
from stemdeck.core.db import session_scope
from stemdeck.core.lifecycle import (
    REUSE_NOTE,
    TRANSITIONS,
    Attempt,
    FetchedSource,
    JobChange,
    JobLifecycle,
    Transition,
    new_job,
)
from stemdeck.core.models import LOCAL_ADMIN_ID, Job, Stem, new_job_id, utcnow
from stemdeck.core.settings import DedupScope, Settings
from stemdeck.core.states import JobStatus, Stage

SHA = "ab" * 32
SOURCE = FetchedSource(
    source_key="jobs/x/source.mp3",
    source_title="A Song",
    source_sha256="cd" * 32,
    source_size_bytes=1000,
    source_format="MP3",
    source_duration_s=12.5,
    source_sample_rate=44_100,
    source_channels=2,
)


def stem(name: str, job_id: str) -> Stem:
    return Stem(
        job_id=job_id,
        name=name,
        position=0,
        duration_s=1.0,
        lufs=-14.0,
        peak_dbfs=-1.0,
        formats=["flac"],
        keys={"flac": f"jobs/{job_id}/stems/{name}.flac"},
        sizes={"flac": 10},
        waveform_key=f"jobs/{job_id}/waveforms/{name}.json",
        waveform_png_key=f"jobs/{job_id}/waveforms/{name}.png",
    )


class Recorder:
    def __init__(self) -> None:
        self.heard: list[JobChange] = []

    def __call__(self, change: JobChange) -> None:
        self.heard.append(change)


@pytest.fixture
def heard() -> Recorder:
    return Recorder()


@pytest.fixture
def lifecycle(settings: Settings, heard: Recorder) -> JobLifecycle:
    return JobLifecycle(settings.effective_database_url, [heard])


@pytest.fixture
def make_job(settings: Settings) -> Callable[..., str]:
    """A job row in any status (as fixtures may write it), with one stem row."""

    def build(
        status: JobStatus, attempts: int = 1, owner_id: str = LOCAL_ADMIN_ID, **columns: object
    ) -> str:
        job_id = new_job_id()
        source = {"source_key": f"jobs/{job_id}/source.wav", "source_sha256": SHA}
        job = new_job(
            job_id,
            "four-stems-dsp",
            ["flac"],
            owner_id=owner_id,
            source_name="song.wav",
            **(source | columns),
        )
        job.status, job.attempts = status, attempts
        job.stems = [stem("vocals", job_id)]
        with session_scope(settings.effective_database_url) as session:
            session.add(job)
        return job_id

    return build


def load(settings: Settings, job_id: str) -> Job | None:
    with session_scope(settings.effective_database_url) as session:
        job = session.get(Job, job_id)
        if job is not None:
            session.expunge(job)
        return job


def attempt(job_id: str, status: JobStatus) -> Attempt:
    return Attempt(job_id, 1, status)


def invoke(lifecycle: JobLifecycle, transition: Transition, job_id: str, status: JobStatus) -> bool:
    """Make ``transition`` on a job in ``status``, as its caller would (an attempt names
    the phase it believes it owns: the job's status)."""
    calls: dict[Transition, Callable[[], object]] = {
        Transition.claim_download: lambda: lifecycle.claim(job_id, JobStatus.fetching),
        Transition.claim_separation: lambda: lifecycle.claim(job_id, JobStatus.running),
        Transition.progress: lambda: lifecycle.progress(
            attempt(job_id, status), Stage.separating, "builtin:hpss", 0.5
        ),
        Transition.fetched: lambda: lifecycle.fetched(attempt(job_id, status), SOURCE),
        Transition.complete: lambda: lifecycle.complete(
            attempt(job_id, status), [stem("drums", job_id)], ["a note"], -1.5
        ),
        Transition.reuse: lambda: lifecycle.reuse_twin(job_id, DedupScope.user),
        Transition.fail: lambda: lifecycle.fail(attempt(job_id, status), "x", "it broke"),
        Transition.hand_back: lambda: lifecycle.hand_back(attempt(job_id, status)),
        Transition.requeue: lambda: lifecycle.requeue(attempt(job_id, status)),
        Transition.give_up: lambda: lifecycle.give_up(attempt(job_id, status), "worker died"),
        Transition.cancel: lambda: lifecycle.cancel(job_id),
        Transition.remove: lambda: lifecycle.remove(job_id, lambda session, job: None),
    }
    assert set(calls) == set(MOVES)
    return calls[transition]() not in (None, False)


# Every transition but a job's birth moves a row that exists.
MOVES = [transition for transition in Transition if transition is not Transition.accept]


def test_the_table_names_every_transition_and_only_known_statuses() -> None:
    assert set(TRANSITIONS) == set(Transition)
    assert TRANSITIONS[Transition.accept] == {}
    for transition in MOVES:
        moves = TRANSITIONS[transition]
        assert moves and set(moves) <= set(JobStatus)
        assert {target for target in moves.values() if target is not None} <= set(JobStatus)
    # Nothing leaves a final state except removal.
    finals = {JobStatus.completed, JobStatus.failed, JobStatus.cancelled}
    for transition, moves in TRANSITIONS.items():
        assert transition == Transition.remove or not finals & set(moves)


@pytest.mark.parametrize(
    ("status", "transition"),
    list(itertools.product(JobStatus, MOVES)),
    ids=lambda value: str(value),
)
def test_every_status_and_transition_moves_as_the_table_says_or_is_refused(
    settings: Settings,
    lifecycle: JobLifecycle,
    heard: Recorder,
    make_job: Callable[..., str],
    status: JobStatus,
    transition: Transition,
) -> None:
    make_job(JobStatus.completed, finished_at=utcnow())  # a twin, for `reuse`
    job_id = make_job(status)
    allowed = TRANSITIONS[transition]
    before = load(settings, job_id)

    won = invoke(lifecycle, transition, job_id, status)

    after = load(settings, job_id)
    # The API keeps finished jobs' bodies while updated_at and status stay (api/bodies.py).
    if won and after is not None:
        assert before is not None and after.updated_at > before.updated_at
    if status not in allowed:
        assert not won
        assert after is not None and after.status == status
        assert heard.heard == []
        return
    assert won
    target = allowed[status]
    assert (after.status if after else None) == target
    assert [(c.job_id, c.transition, c.status) for c in heard.heard] == [
        (job_id, transition, target)
    ]
    change = heard.heard[0]
    # Listeners learn what the row said after the change, without reading it again.
    assert change.strategy == "four-stems-dsp"
    assert change.attempt == (after.attempts if after else 1)
    assert change.error_code == {Transition.fail: "x", Transition.give_up: "worker_lost"}.get(
        transition
    )
    assert change.owner_id == LOCAL_ADMIN_ID


ATTEMPT_TRANSITIONS = [
    (transition, phase)
    for transition in (
        Transition.progress,
        Transition.fetched,
        Transition.complete,
        Transition.fail,
        Transition.hand_back,
        Transition.requeue,
        Transition.give_up,
    )
    for phase in TRANSITIONS[transition]
]


@pytest.mark.parametrize(("transition", "phase"), ATTEMPT_TRANSITIONS, ids=str)
def test_a_stale_attempt_changes_nothing(
    settings: Settings,
    lifecycle: JobLifecycle,
    heard: Recorder,
    make_job: Callable[..., str],
    transition: Transition,
    phase: JobStatus,
) -> None:
    """GIVEN attempt 2 owns the job WHEN attempt 1 makes any move THEN it is refused."""
    job_id = make_job(phase, attempts=2)
    before = load(settings, job_id)

    assert not invoke(lifecycle, transition, job_id, phase)  # attempt 1

    after = load(settings, job_id)
    assert after is not None and before is not None
    assert (after.status, after.attempts, after.updated_at) == (
        before.status,
        2,
        before.updated_at,
    )
    assert heard.heard == []


def test_a_claim_counts_the_attempt_and_a_hand_back_takes_it_back(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str]
) -> None:
    job_id = make_job(JobStatus.queued, attempts=1, error="old", error_code="x")

    claimed = lifecycle.claim(job_id, JobStatus.running)

    assert claimed == Attempt(job_id, 2, JobStatus.running)
    job = load(settings, job_id)
    assert job is not None
    assert (job.stage, job.progress, job.error, job.error_code) == ("decoding", 0.0, None, None)
    assert job.heartbeat_at is not None and job.started_at is not None
    assert lifecycle.claim(job_id, JobStatus.running) is None  # not queued any more

    assert lifecycle.hand_back(claimed)
    job = load(settings, job_id)
    assert job is not None
    assert (job.status, job.attempts, job.stage, job.heartbeat_at) == ("queued", 1, "waiting", None)


def test_a_download_claims_as_fetching_and_its_source_starts_the_separation_count(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str]
) -> None:
    job_id = make_job(JobStatus.queued, attempts=0, source_key=None)
    download = lifecycle.claim(job_id, JobStatus.fetching)
    assert download is not None
    assert load(settings, job_id).stage == Stage.downloading  # type: ignore[union-attr]

    assert lifecycle.fetched(download, SOURCE)

    job = load(settings, job_id)
    assert job is not None
    assert (job.status, job.attempts, job.source_key, job.source_name) == (
        "queued",
        0,
        SOURCE.source_key,
        "A Song",
    )
    assert (job.source_duration_s, job.source_sha256) == (12.5, SOURCE.source_sha256)


def test_progress_names_the_stage_and_the_model(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str]
) -> None:
    job_id = make_job(JobStatus.running)
    assert lifecycle.progress(attempt(job_id, JobStatus.running), Stage.separating, "x:y", 0.4)
    job = load(settings, job_id)
    assert job is not None
    assert (job.stage, job.stage_detail, job.progress) == ("separating", "x:y", 0.4)


def test_completion_replaces_the_stems_whole(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str]
) -> None:
    job_id = make_job(JobStatus.running)
    stems = [stem("bass", job_id), stem("other", job_id)]

    assert lifecycle.complete(attempt(job_id, JobStatus.running), stems, ["loud"], -2.0)

    job = load(settings, job_id)
    assert job is not None
    assert [s.name for s in job.stems] == ["bass", "other"]
    assert (job.stage, job.progress, job.notes, job.output_gain_db) == ("done", 1.0, ["loud"], -2.0)
    assert job.finished_at is not None and job.heartbeat_at is None


def test_a_twin_completes_a_queued_job_with_copies_of_its_stems(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str]
) -> None:
    twin = make_job(JobStatus.completed, finished_at=utcnow(), output_gain_db=-3.0)
    job_id = make_job(JobStatus.queued)

    assert (
        lifecycle.reuse_twin(job_id, DedupScope.user) == f"jobs/{job_id}/source.wav"
    )  # now unused

    job = load(settings, job_id)
    assert job is not None
    assert (job.status, job.source_key, job.output_gain_db) == (
        "completed",
        f"jobs/{twin}/source.wav",
        -3.0,
    )
    assert [s.keys for s in job.stems] == [{"flac": f"jobs/{twin}/stems/vocals.flac"}]
    assert job.notes == [f"{REUSE_NOTE}; its stems were reused."]


@pytest.fixture
def other_user(settings: Settings) -> str:
    with session_scope(settings.effective_database_url) as session:
        return add_user(session, "bea@example.com", "a long enough password").id


def test_under_user_scope_another_owners_twin_is_not_used(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str], other_user: str
) -> None:
    make_job(JobStatus.completed, finished_at=utcnow(), owner_id=other_user)
    job_id = make_job(JobStatus.queued)
    assert lifecycle.reuse_twin(job_id, DedupScope.user) is False
    assert load(settings, job_id).status == "queued"  # type: ignore[union-attr]


def test_under_global_scope_another_owners_twin_is_used_but_never_named(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str], other_user: str
) -> None:
    """GIVEN another user's twin that was itself completed from a third job (its note
    names that one) WHEN a job reuses it under global dedup THEN the stems are shared,
    the twin's notes about the audio stay, and no note names either job."""
    earlier = make_job(JobStatus.cancelled, owner_id=other_user)  # named, not a twin
    twin = make_job(JobStatus.completed, finished_at=utcnow(), owner_id=other_user)
    with session_scope(settings.effective_database_url) as session:
        row = session.get(Job, twin)
        assert row is not None
        row.notes = [
            "Turned down by 3 dB.",
            f"{REUSE_NOTE} (job {earlier}); its stems were reused.",
        ]
    job_id = make_job(JobStatus.queued)

    assert lifecycle.reuse_twin(job_id, DedupScope.global_)

    job = load(settings, job_id)
    assert job is not None and job.status == "completed"
    assert [s.keys for s in job.stems] == [{"flac": f"jobs/{twin}/stems/vocals.flac"}]
    assert job.notes == [
        "Turned down by 3 dB.",
        f"{REUSE_NOTE}; its stems were reused.",
    ]


def test_under_global_scope_the_owners_own_twin_comes_first_and_is_not_named_either(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str], other_user: str
) -> None:
    """GIVEN global dedup, another user's twin and the owner's own WHEN a job reuses one
    THEN it is the owner's, and no note names it: an answer names only its own job."""
    make_job(JobStatus.completed, finished_at=utcnow(), owner_id=other_user)
    mine = make_job(JobStatus.completed, finished_at=utcnow())
    job_id = make_job(JobStatus.queued)

    assert lifecycle.reuse_twin(job_id, DedupScope.global_)

    job = load(settings, job_id)
    assert job is not None
    assert [s.keys for s in job.stems] == [{"flac": f"jobs/{mine}/stems/vocals.flac"}]
    assert job.notes == [f"{REUSE_NOTE}; its stems were reused."]
    assert all(mine not in note for note in job.notes)


def test_no_twin_leaves_the_job_queued(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str], heard: Recorder
) -> None:
    job_id = make_job(JobStatus.queued)
    assert lifecycle.reuse_twin(job_id, DedupScope.user) is False
    assert load(settings, job_id).status == "queued"  # type: ignore[union-attr]
    assert heard.heard == []


def test_a_cancelled_job_keeps_its_row_without_stems(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str]
) -> None:
    job_id = make_job(JobStatus.running)
    assert lifecycle.cancel(job_id)
    job = load(settings, job_id)
    assert job is not None
    assert (job.status, job.stems, job.heartbeat_at) == ("cancelled", [], None)
    assert job.finished_at is not None


def test_removal_keeps_the_row_when_its_files_cannot_be_released(
    settings: Settings, lifecycle: JobLifecycle, make_job: Callable[..., str], heard: Recorder
) -> None:
    job_id = make_job(JobStatus.completed)

    def store_down(session: object, job: Job) -> None:
        raise OSError("store down")

    with pytest.raises(OSError):
        lifecycle.remove(job_id, store_down)
    assert load(settings, job_id) is not None
    assert heard.heard == []

    released: list[str] = []
    assert lifecycle.remove(job_id, lambda session, job: released.append(job.id))
    assert released == [job_id]
    assert load(settings, job_id) is None
    with session_scope(settings.effective_database_url) as session:
        assert session.query(Stem).filter(Stem.job_id == job_id).count() == 0


def test_a_failing_listener_does_not_undo_the_change(
    settings: Settings, make_job: Callable[..., str]
) -> None:
    def broken(change: JobChange) -> None:
        raise RuntimeError("listener down")

    heard = Recorder()
    lifecycle = JobLifecycle(settings.effective_database_url, [broken, heard])
    job_id = make_job(JobStatus.queued)

    assert lifecycle.cancel(job_id)

    assert load(settings, job_id).status == "cancelled"  # type: ignore[union-attr]
    assert heard.heard == [
        JobChange(
            job_id,
            Transition.cancel,
            JobStatus.cancelled,
            "four-stems-dsp",
            attempt=1,
            owner_id=LOCAL_ADMIN_ID,
        )
    ]


def test_a_new_job_must_start_queued(lifecycle: JobLifecycle) -> None:
    job = new_job(
        new_job_id(),
        "vocals",
        ["flac"],
        owner_id=LOCAL_ADMIN_ID,
        source_name="a.wav",
        source_key=None,
    )
    job.status = JobStatus.completed
    with pytest.raises(ValueError, match="starts queued"):
        lifecycle.accept(job)


def test_a_new_job_is_announced_with_its_owner_and_a_refused_one_is_not(
    settings: Settings, lifecycle: JobLifecycle, heard: Recorder
) -> None:
    """GIVEN a new job WHEN accepted THEN listeners hear its birth (lists of its owner's
    jobs change); WHEN its admission refuses THEN nothing is written and nothing heard."""

    def new() -> Job:
        return new_job(
            new_job_id(), "vocals", ["flac"], owner_id=LOCAL_ADMIN_ID, source_name="a.wav"
        )

    def refuse(_: object) -> None:
        raise RuntimeError("over quota")

    with pytest.raises(RuntimeError):
        lifecycle.accept(new(), refuse)
    assert heard.heard == []

    job = new()
    lifecycle.accept(job)

    assert heard.heard == [
        JobChange(job.id, Transition.accept, JobStatus.queued, "vocals", 0, None, LOCAL_ADMIN_ID)
    ]
    assert load(settings, job.id) is not None
