"""/api/strategies: what a job can ask for."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from stemdeck.api.deps import SettingsDep, StrategiesDep
from stemdeck.api.schemas import ModelPublic, StrategyPublic
from stemdeck.core.catalog import CATALOG

router = APIRouter(prefix="/strategies", tags=["strategies"])


def _model_status(model_id: str) -> Literal["ready", "unknown"]:
    # Built-in models are signal processing: nothing to download, always ready.
    # Weights of the other families live with the workers (another container, or
    # another machine), which this process cannot see; say so rather than guess.
    return "ready" if CATALOG[model_id].family == "builtin" else "unknown"


@router.get("", name="list_strategies", summary="Strategies, their stems and models")
def list_strategies(strategies: StrategiesDep, settings: SettingsDep) -> list[StrategyPublic]:
    return [
        StrategyPublic(
            name=strategy.name,
            label=strategy.label,
            stems=list(strategy.stems),
            models=[
                ModelPublic(
                    id=model_id, label=CATALOG[model_id].label, status=_model_status(model_id)
                )
                for model_id in strategy.models
            ],
            default=strategy.name == settings.default_strategy,
        )
        for strategy in strategies.values()
    ]
