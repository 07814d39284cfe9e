"""Strategy trees run end to end on real audio, and the model cache behind them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdeck.core.catalog import CATALOG, ModelSpec
from stemdeck.core.strategies import Strategy, load_strategies_file, parse_strategies
from stemdeck.worker.models.base import Audio, ModelError, Progress, SeparationModel
from stemdeck.worker.models.builtin import create
from stemdeck.worker.models.cache import ModelCache
from stemdeck.worker.tree import run_tree


@pytest.fixture(scope="module")
def mixture(shared_audio: Path) -> Audio:
    audio, _ = sf.read(shared_audio / "Music_Delta__80s_Rock" / "mixture.wav", dtype="float32")
    return np.ascontiguousarray(audio.T)


def strategy_from(tree: object) -> Strategy:
    return parse_strategies({"strategies": {"s": {"label": "S", "tree": tree}}}, "test")["s"]


class Events:
    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []

    def __call__(self, label: str, fraction: float) -> None:
        self.events.append((label, fraction))

    @property
    def fractions(self) -> list[float]:
        return [fraction for _, fraction in self.events]

    def first(self, label: str) -> float:
        return next(fraction for name, fraction in self.events if name == label)


def test_four_stems_dsp_gives_every_stem_and_they_sum_to_the_mixture(mixture: Audio) -> None:
    strategy = load_strategies_file(None)["four-stems-dsp"]
    progress = Events()
    stems = run_tree(strategy, mixture, ModelCache("cpu"), progress)

    assert list(stems) == ["vocals", "drums", "bass", "other"]
    for stem in stems.values():
        assert stem.shape == mixture.shape
        assert stem.dtype == np.float32
    assert np.abs(sum(stems.values()) - mixture).max() <= 1e-5


def test_tree_progress_is_weighted_by_model_cost_and_only_moves_forward(mixture: Audio) -> None:
    strategy = load_strategies_file(None)["four-stems-dsp"]
    progress = Events()
    run_tree(strategy, mixture, ModelCache("cpu"), progress)

    labels = list(dict.fromkeys(label for label, _ in progress.events))
    assert labels == [
        "separating: builtin:crossover",
        "separating: builtin:hpss",
        "separating: builtin:center",
    ]
    assert progress.fractions == sorted(progress.fractions)
    assert progress.fractions[0] == 0.0
    assert progress.fractions[-1] == pytest.approx(1.0)
    costs = {model: CATALOG[model].cost for model in strategy.models}
    total = sum(costs.values())
    # Each node starts where the cost of the nodes before it ends.
    assert progress.first("separating: builtin:hpss") == pytest.approx(
        costs["builtin:crossover"] / total
    )
    assert progress.first("separating: builtin:center") == pytest.approx(
        (costs["builtin:crossover"] + costs["builtin:hpss"]) / total
    )


def test_discarded_slots_are_dropped_and_nested_outputs_are_the_models_own(mixture: Audio) -> None:
    strategy = strategy_from(
        {
            "model": "builtin:center",
            "outputs": {
                "center": "discard",
                "sides": {
                    "model": "builtin:crossover",
                    "params": {"cutoff_hz": 500},
                    "outputs": {"low": "discard", "high": "air"},
                },
            },
        }
    )
    stems = run_tree(strategy, mixture, ModelCache("cpu"), Events())

    assert list(stems) == ["air"]
    sides = create(CATALOG["builtin:center"]).separate(mixture, {}, lambda _: None)["sides"]
    high = create(CATALOG["builtin:crossover"]).separate(sides, {"cutoff_hz": 500}, lambda _: None)
    np.testing.assert_array_equal(stems["air"], high["high"])


class FakeModel(SeparationModel):
    """Returns the input halved in each slot, or a broken result when told to."""

    def __init__(self, spec: ModelSpec, broken: bool = False) -> None:
        super().__init__(spec)
        self.broken = broken
        self.loaded_on: list[str] = []
        self.released = False

    def load(self, device: str) -> None:
        self.loaded_on.append(device)

    def separate(
        self, audio: Audio, params: dict[str, float], progress: Progress
    ) -> dict[str, Audio]:
        progress(1.0)
        if self.broken:
            return {self.slots[0]: audio[:, :-1]}
        return {slot: audio * np.float32(1 / len(self.slots)) for slot in self.slots}

    def release(self) -> None:
        self.released = True


def test_models_are_created_and_loaded_once_and_kept(mixture: Audio) -> None:
    made: list[FakeModel] = []

    def factory(spec: ModelSpec) -> SeparationModel:
        made.append(FakeModel(spec))
        return made[-1]

    cache = ModelCache("cpu", factories={"builtin": factory})
    strategy = load_strategies_file(None)["four-stems-dsp"]
    for _ in range(2):  # two jobs
        run_tree(strategy, mixture, cache, Events())

    assert sorted(cache.loaded) == sorted(strategy.models)
    assert len(made) == 3
    assert all(model.loaded_on == ["cpu"] for model in made)
    assert cache.get("builtin:hpss") is cache.get("builtin:hpss")

    cache.release()
    assert cache.loaded == []
    assert all(model.released for model in made)


def test_unknown_models_and_missing_families_are_model_errors() -> None:
    cache = ModelCache("cpu", factories={})
    with pytest.raises(ModelError, match="'builtin' model family"):
        cache.get("builtin:hpss")
    with pytest.raises(ModelError, match="nonesuch:model"):
        cache.get("nonesuch:model")
    assert cache.loaded == []


def test_a_model_returning_the_wrong_shape_fails_the_tree(mixture: Audio) -> None:
    cache = ModelCache("cpu", factories={"builtin": lambda spec: FakeModel(spec, broken=True)})
    strategy = load_strategies_file(None)["center-sides"]
    with pytest.raises(ModelError, match="builtin:center returned a broken result"):
        run_tree(strategy, mixture, cache, Events())
