"""/api/strategies: what a job can ask for, and what this server can run now, how fast.

Readiness is what the live workers report (core/readiness.py), or this process's own
look at the models directory while none has reported."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from redis import Redis
from redis.exceptions import RedisError

from stemdeck.api.deps import RedisDep, SettingsDep, StrategiesDep
from stemdeck.api.schemas import ModelPublic, StrategyPublic
from stemdeck.core.backlog import snapshot
from stemdeck.core.catalog import CATALOG
from stemdeck.core.offer import offer, serving_devices
from stemdeck.core.presence import reports
from stemdeck.core.readiness import Reports, default_strategy, strategy_readiness
from stemdeck.core.speed import Speeds

router = APIRouter(prefix="/strategies", tags=["strategies"])
log = logging.getLogger(__name__)


def _workers(redis: Redis) -> tuple[list[str] | None, Speeds, Reports]:
    """The live workers' devices, the measured speeds and the workers' weights reports;
    (None, {}, []) when Redis does not answer: the list still says which weights are here."""
    try:
        found = snapshot(redis)
    except RedisError as error:
        log.warning("strategies listed without the workers' picture: %s", error)
        return None, {}, []
    return serving_devices(found.workers), found.speeds, reports(found.workers)


@router.get("", name="list_strategies", summary="Strategies, their stems, models and speed")
def list_strategies(
    strategies: StrategiesDep, settings: SettingsDep, redis: RedisDep
) -> list[StrategyPublic]:
    """Each strategy with its stems, its models' readiness, its measured speed on the
    live workers' devices, and whether a job for it would start now (and if not, why)."""
    devices, speeds, weights = _workers(redis)
    default = default_strategy(strategies, settings, weights)
    listed = []
    for strategy in strategies.values():
        readiness = strategy_readiness(strategy, settings, weights)
        now = offer(strategy.name, readiness, devices, speeds)
        listed.append(
            StrategyPublic(
                name=strategy.name,
                label=strategy.label,
                stems=list(strategy.stems),
                models=[
                    ModelPublic(
                        id=model_id,
                        label=CATALOG[model_id].label,
                        status=model.status,
                        missing_files=list(model.missing_files),
                    )
                    for model_id, model in readiness.items()
                ],
                default=strategy.name == default,
                seconds_per_audio_second=now.seconds_per_audio_s,
                available=now.available,
                unavailable_reason=now.unavailable_reason,
            )
        )
    return listed
