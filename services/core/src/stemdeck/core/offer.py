"""What the server can offer now for each strategy: whether a job for it would start,
and how fast it runs here, from the live workers and their measured speed.

A strategy is available when its model weights are present (or download on first use)
and a live worker takes jobs from the separate queue. Its speed is the median, over the
live workers serving that queue, of the speed measured on each one's device (core/speed.py);
None until it ran on one of those devices. Reasons are for a musician's screen: what is
wrong and what to do, no paths.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stemdeck.core.presence import WorkerPresence
from stemdeck.core.queue import SEPARATE_QUEUE
from stemdeck.core.readiness import ModelReadiness, ModelStatus
from stemdeck.core.speed import Speeds

WEIGHTS_MISSING = (
    "Not installed on this server: an admin can add its model files with the command "
    "stemdeck models."
)
NO_WORKER = (
    "No worker is running to split songs right now. Songs you add wait in line until one "
    "starts (the command stemdeck worker, or docker compose up -d worker)."
)


@dataclass(frozen=True)
class Offer:
    seconds_per_audio_s: float | None
    available: bool
    unavailable_reason: str | None


def serving_devices(workers: Sequence[WorkerPresence]) -> list[str]:
    """The device of each live worker that takes separations, one entry per worker."""
    return [w.device for w in workers if not w.stale and SEPARATE_QUEUE in w.queues]


def median_speed(speeds: Speeds, strategy: str, devices: Sequence[str]) -> float | None:
    measured = [
        speeds[(strategy, device)].seconds_per_audio_s
        for device in devices
        if (strategy, device) in speeds
    ]
    return round(statistics.median(measured), 4) if measured else None


def offer(
    strategy: str,
    readiness: Mapping[str, ModelReadiness],
    devices: Sequence[str] | None,
    speeds: Speeds,
) -> Offer:
    """``devices``: of the live workers (serving_devices); None when the workers could
    not be read (Redis down): then only the weights decide, and no speed is known."""
    speed = median_speed(speeds, strategy, devices) if devices else None
    if any(r.status is ModelStatus.missing for r in readiness.values()):
        return Offer(speed, False, WEIGHTS_MISSING)
    if devices is not None and not devices:
        return Offer(speed, False, NO_WORKER)
    return Offer(speed, True, None)
