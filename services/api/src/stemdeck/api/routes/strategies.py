"""/api/strategies: what a job can ask for."""

from __future__ import annotations

from fastapi import APIRouter

from stemdeck.api.deps import SettingsDep, StrategiesDep
from stemdeck.api.schemas import ModelPublic, StrategyPublic
from stemdeck.core.catalog import CATALOG
from stemdeck.core.readiness import default_strategy, strategy_readiness

router = APIRouter(prefix="/strategies", tags=["strategies"])


@router.get("", name="list_strategies", summary="Strategies, their stems and models")
def list_strategies(strategies: StrategiesDep, settings: SettingsDep) -> list[StrategyPublic]:
    default = default_strategy(strategies, settings)
    return [
        StrategyPublic(
            name=strategy.name,
            label=strategy.label,
            stems=list(strategy.stems),
            models=[
                ModelPublic(
                    id=model_id,
                    label=CATALOG[model_id].label,
                    status=readiness.status,
                    missing_files=list(readiness.missing_files),
                )
                for model_id, readiness in strategy_readiness(strategy, settings).items()
            ],
            default=strategy.name == default,
        )
        for strategy in strategies.values()
    ]
