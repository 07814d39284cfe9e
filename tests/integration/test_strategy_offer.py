"""GET /api/strategies says what this server can run now and how fast: each strategy's
measured speed on the live workers' devices, and whether a job for it would start
(weights there, a live worker), with a reason a musician can act on when not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from redis import Redis

from stemdeck.api.app import create_app
from stemdeck.core.offer import NO_WORKER, WEIGHTS_MISSING
from stemdeck.core.settings import Settings
from stemdeck.core.speed import record_speed
from tests.integration.test_queue_visibility import fake_worker

DSP = "four-stems-dsp"


def listed(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/api/strategies")
    assert response.status_code == 200, response.text
    return {item["name"]: item for item in response.json()}


def test_without_a_live_worker_nothing_is_offered_as_if_it_would_start(
    make_settings: Callable[..., Settings], redis_conn: Redis
) -> None:
    settings = make_settings(model_downloads=False)
    # A worker that stopped reporting a minute ago (3 beats of 5 s) is not live.
    fake_worker(redis_conn, seen_ago_s=60)
    record_speed(redis_conn, DSP, "cpu", 0.02)
    with TestClient(create_app(settings)) as client:
        strategies = listed(client)
    dsp = strategies[DSP]
    assert (dsp["available"], dsp["unavailable_reason"]) == (False, NO_WORKER)
    assert dsp["seconds_per_audio_second"] is None
    # Missing weights come first: a worker would not help.
    htdemucs = strategies["htdemucs"]
    assert (htdemucs["available"], htdemucs["unavailable_reason"]) == (False, WEIGHTS_MISSING)
    for strategy in strategies.values():
        reason = strategy["unavailable_reason"]
        assert reason and "/" not in reason.replace("`stemdeck models`", "")


def test_speed_is_the_median_measured_on_the_live_workers_devices(
    make_settings: Callable[..., Settings], redis_conn: Redis
) -> None:
    """GIVEN two live CPU workers and one GPU worker, speeds measured on CPU (median of
    samples 0.3, 0.5, 0.4 → 0.4), on the GPU (0.1), and on a device no live worker has
    (9.0) THEN the strategy's speed is the median over the three workers, 0.4; a
    strategy never measured there has none, and both are available."""
    settings = make_settings(model_downloads=False)
    fake_worker(redis_conn, "cpu.1")
    fake_worker(redis_conn, "cpu.2")
    fake_worker(redis_conn, "gpu.1", device="NVIDIA H200")
    for sample in (0.3, 0.5, 0.4):
        record_speed(redis_conn, DSP, "cpu", sample)
    record_speed(redis_conn, DSP, "NVIDIA H200", 0.1)
    record_speed(redis_conn, DSP, "an old laptop", 9.0)
    with TestClient(create_app(settings)) as client:
        strategies = listed(client)
    assert strategies[DSP]["seconds_per_audio_second"] == 0.4
    assert (strategies[DSP]["available"], strategies[DSP]["unavailable_reason"]) == (True, None)
    centre = strategies["center-sides"]
    assert centre["seconds_per_audio_second"] is None and centre["available"]

    # WHEN the CPU workers go, the GPU's speed is the one left
    redis_conn.hdel("stemdeck:workers", "cpu.1", "cpu.2")
    with TestClient(create_app(settings)) as client:
        assert listed(client)[DSP]["seconds_per_audio_second"] == 0.1


def test_a_worker_on_other_queues_only_does_not_make_separations_available(
    make_settings: Callable[..., Settings], redis_conn: Redis
) -> None:
    presence = fake_worker(redis_conn, "ingest.1")
    presence.queues = ["ingest"]
    redis_conn.hset("stemdeck:workers", presence.name, presence.model_dump_json())
    with TestClient(create_app(make_settings(model_downloads=False))) as client:
        assert listed(client)[DSP]["unavailable_reason"] == NO_WORKER
