"""The lifecycle listener that counts jobs: what each transition moves, and the bound on
the claims it remembers (attempts that end in another process are forgotten)."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from stemdeck.core.lifecycle import JobChange, Transition
from stemdeck.core.metrics import JobMetrics
from stemdeck.core.states import JobStatus


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def change(
    job_id: str, transition: Transition, status: JobStatus, strategy: str, code: str | None = None
) -> JobChange:
    return JobChange(job_id, transition, status, strategy, 1, code)


def test_a_claimed_attempt_is_timed_to_its_end_and_counted_once() -> None:
    metrics, strategy = JobMetrics(), f"s-{uuid.uuid4().hex}"
    metrics(change("a", Transition.claim_separation, JobStatus.running, strategy))
    metrics(change("a", Transition.progress, JobStatus.running, strategy))
    assert sample("stemdeck_jobs_total", strategy=strategy, status="completed") == 0
    metrics(change("a", Transition.complete, JobStatus.completed, strategy))

    assert sample("stemdeck_jobs_total", strategy=strategy, status="completed") == 1
    seconds = {"strategy": strategy, "status": "completed"}
    assert sample("stemdeck_job_seconds_count", **seconds) == 1


def test_a_failure_counts_its_code_and_a_give_up_counts_as_worker_lost() -> None:
    metrics, strategy = JobMetrics(), f"s-{uuid.uuid4().hex}"
    lost, requeued = (
        sample("stemdeck_jobs_worker_lost_total"),
        sample("stemdeck_attempts_requeued_total"),
    )
    metrics(change("b", Transition.requeue, JobStatus.queued, strategy))
    metrics(change("b", Transition.give_up, JobStatus.failed, strategy, "worker_lost"))
    metrics(change("c", Transition.fail, JobStatus.failed, strategy, "separation_failed"))

    assert sample("stemdeck_attempts_requeued_total") == requeued + 1
    assert sample("stemdeck_jobs_worker_lost_total") == lost + 1
    assert sample("stemdeck_jobs_total", strategy=strategy, status="failed") == 2
    for code in ("worker_lost", "separation_failed"):
        failures = sample("stemdeck_job_failures_total", strategy=strategy, error_code=code)
        assert failures == 1, code
    # Neither attempt was claimed here: no time is made up for them.
    assert sample("stemdeck_job_seconds_count", strategy=strategy, status="failed") == 0


def test_only_the_newest_claims_are_remembered() -> None:
    metrics, strategy = JobMetrics(max_open=1), f"s-{uuid.uuid4().hex}"
    metrics(change("old", Transition.claim_separation, JobStatus.running, strategy))
    metrics(change("new", Transition.claim_separation, JobStatus.running, strategy))
    metrics(change("old", Transition.cancel, JobStatus.cancelled, strategy))
    metrics(change("new", Transition.complete, JobStatus.completed, strategy))

    assert sample("stemdeck_jobs_total", strategy=strategy, status="cancelled") == 1
    assert sample("stemdeck_job_seconds_count", strategy=strategy, status="cancelled") == 0
    assert sample("stemdeck_job_seconds_count", strategy=strategy, status="completed") == 1
