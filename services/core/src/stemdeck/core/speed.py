"""How fast separations really run: seconds of work per second of audio, measured.

After each completed separation the worker records one sample for its (strategy,
device): the wall-clock seconds from claiming the job to recording its stems, over the
song's duration. Estimates use the median of the last SAMPLES samples, so one slow job
(a model loaded for the first time, a busy machine) does not throw them off.

All pairs live in one Redis hash, ``stemdeck:speeds`` (field ``strategy<TAB>device``,
value a JSON list of recent samples, newest first), so a reader gets every measured
speed in one command. A Lua script adds a sample atomically: two workers finishing at
the same moment both count.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis

from stemdeck.core.job_marks import mark_queue_changed

SPEEDS_KEY = "stemdeck:speeds"
SAMPLES = 9

_ADD_SAMPLE = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local samples = {}
if raw then samples = cjson.decode(raw) end
table.insert(samples, 1, tonumber(ARGV[2]))
while #samples > tonumber(ARGV[3]) do table.remove(samples) end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(samples))
return #samples
"""


@dataclass(frozen=True)
class Speed:
    seconds_per_audio_s: float  # the median of the recent samples
    samples: int


Speeds = dict[tuple[str, str], Speed]


def _field(strategy: str, device: str) -> str:
    return f"{strategy}\t{device}"


def record_speed(redis: Redis, strategy: str, device: str, seconds_per_audio_s: float) -> None:
    if seconds_per_audio_s <= 0:
        raise ValueError(f"a speed must be positive, not {seconds_per_audio_s}")
    redis.eval(
        _ADD_SAMPLE, 1, SPEEDS_KEY, _field(strategy, device), repr(seconds_per_audio_s), SAMPLES
    )
    mark_queue_changed(redis)  # estimated starts move with it


def parse_speeds(raw: Mapping[Any, Any]) -> Speeds:
    """An HGETALL of the speeds hash → (strategy, device) → its median; fields that do
    not parse (another version wrote them) are left out."""
    speeds: Speeds = {}
    for field, value in raw.items():
        strategy, _, device = field.decode().partition("\t")
        try:
            samples = [float(sample) for sample in json.loads(value)]
        except (ValueError, TypeError):
            continue
        if device and samples:
            speeds[(strategy, device)] = Speed(statistics.median(samples), len(samples))
    return speeds


def read_speeds(redis: Redis) -> Speeds:
    return parse_speeds(redis.hgetall(SPEEDS_KEY))


def expected_seconds(
    speeds: Speeds, strategy: str, device: str, duration_s: float | None
) -> float | None:
    """How long a separation of this much audio should take there; None when unmeasured."""
    speed = speeds.get((strategy, device))
    if speed is None or duration_s is None:
        return None
    return speed.seconds_per_audio_s * duration_s
