"""The worker's model cache: loaded once, least recently used out past the budget."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

import pytest

from stemdeck.core.catalog import CATALOG, ModelSpec, WeightFile
from stemdeck.worker.models.base import Audio, ModelError, Progress, SeparationModel
from stemdeck.worker.models.cache import ModelCache


class Weighty(SeparationModel):
    loads: ClassVar[list[str]] = []

    def __init__(self, spec: ModelSpec, size: int = 100) -> None:
        super().__init__(spec)
        self.size = size
        self.released = False

    def load(self, device: str) -> None:
        Weighty.loads.append(self.spec.id)

    def separate(
        self, audio: Audio, params: dict[str, float], progress: Progress
    ) -> dict[str, Audio]:
        return {slot: audio for slot in self.slots}

    @property
    def memory_bytes(self) -> int:
        return 0 if self.released else self.size

    def release(self) -> None:
        self.released = True


@pytest.fixture
def weighty_models(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    ids = [f"weighty:{name}" for name in ("a", "b", "c")]
    for model_id in ids:
        monkeypatch.setitem(
            CATALOG, model_id, ModelSpec(id=model_id, label=model_id, slots=("x",), cost=1.0)
        )
    Weighty.loads = []
    return ids


def test_each_model_loads_once_and_stays(weighty_models: list[str]) -> None:
    cache = ModelCache("cpu", factories={"weighty": Weighty})
    a, b, _ = weighty_models
    first = cache.get(a)
    assert cache.get(a) is first
    cache.get(b)
    assert Weighty.loads == [a, b]
    assert cache.memory_bytes == 200


def test_least_recently_used_models_go_past_the_budget(weighty_models: list[str]) -> None:
    cache = ModelCache("cpu", factories={"weighty": Weighty}, memory_budget_bytes=250)
    a, b, c = weighty_models
    model_a = cache.get(a)
    cache.get(b)
    cache.get(a)  # a is now the most recently used
    cache.get(c)
    assert cache.loaded == [a, c]
    assert cache.memory_bytes == 200 and not model_a.released


def test_a_model_larger_than_the_budget_still_runs_alone(weighty_models: list[str]) -> None:
    cache = ModelCache(
        "cpu", factories={"weighty": lambda s: Weighty(s, size=1000)}, memory_budget_bytes=10
    )
    a, b, _ = weighty_models
    cache.get(a)
    cache.get(b)
    assert cache.loaded == [b]


def test_a_model_that_fails_to_load_is_not_kept(weighty_models: list[str]) -> None:
    attempts = []

    class Broken(Weighty):
        def load(self, device: str) -> None:
            attempts.append(device)
            raise ModelError("weights damaged")

    cache = ModelCache("cpu", factories={"weighty": Broken})
    for _ in range(2):
        with pytest.raises(ModelError, match="damaged"):
            cache.get(weighty_models[0])
    assert attempts == ["cpu", "cpu"] and cache.loaded == []


def test_missing_weights_are_named_when_downloads_are_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = ModelSpec(
        id="weighty:w",
        label="w",
        slots=("x",),
        cost=1.0,
        weights=(
            WeightFile(
                "w/model.th", "http://127.0.0.1:1/model.th", hashlib.sha256(b"weights").hexdigest()
            ),
        ),
    )
    monkeypatch.setitem(CATALOG, spec.id, spec)
    cache = ModelCache("cpu", factories={"weighty": Weighty}, models_dir=tmp_path, downloads=False)
    with pytest.raises(ModelError, match=r"w/model\.th.*STEMDECK_MODEL_DOWNLOADS is off") as caught:
        cache.get(spec.id)
    assert "stemdeck models" in str(caught.value) and str(tmp_path) not in str(caught.value)
    downloading = ModelCache("cpu", factories={"weighty": Weighty}, models_dir=tmp_path)
    with pytest.raises(
        ModelError, match=r"downloading it from http://127\.0\.0\.1:1/model\.th failed"
    ):
        downloading.get(spec.id)
    (tmp_path / "w").mkdir(exist_ok=True)
    (tmp_path / "w/model.th").write_bytes(b"weights")
    assert downloading.get(spec.id).spec is spec


def test_unknown_models_and_families() -> None:
    with pytest.raises(ModelError, match="Unknown model 'nope:x'"):
        ModelCache("cpu").get("nope:x")
    with pytest.raises(ModelError, match="'builtin' model family"):
        ModelCache("cpu", factories={}).get("builtin:hpss")


def test_devices_resolve_or_stop_start_up() -> None:
    from stemdeck.core.settings import SettingsError
    from stemdeck.worker.models.cache import resolve_device

    assert resolve_device("cpu") == "cpu"
    with pytest.raises(SettingsError, match="STEMDECK_DEVICE=cuda, but torch sees no cuda"):
        resolve_device("cuda")
