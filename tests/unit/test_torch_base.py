"""What every torch model family gets from TorchModel: the checks before a separation and
the one retry at a smaller size when the GPU runs out of memory, on a tiny fake family."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from stemdeck.core.catalog import ModelSpec, ParamSpec
from stemdeck.worker.models.base import Audio, ModelError
from stemdeck.worker.models.torch_base import RestartableProgress, TorchModel

SPEC = ModelSpec(
    id="fake:halves",
    label="Two halves",
    slots=("left", "right"),
    cost=0.01,
    params=(ParamSpec("gain", float, 0.0, 2.0, 1.0),),
)


def out_of_memory() -> torch.cuda.OutOfMemoryError:
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")


class Halves(TorchModel):
    """Each pass reports half way, then runs out of GPU memory while ``oom`` passes are
    left, else gives ``gain`` times half the audio to each slot."""

    def __init__(self, *, oom: int = 0, can_retry: bool = True) -> None:
        super().__init__(SPEC)
        self.is_loaded = True
        self.oom = oom
        self.can_retry = can_retry
        self.passes: list[bool] = []  # each pass's ``smaller``
        self.settings: list[dict[str, float]] = []
        self.freed = 0

    @property
    def loaded(self) -> bool:
        return self.is_loaded

    def _separate(
        self, audio: Audio, settings: dict[str, float], progress: RestartableProgress
    ) -> dict[str, Audio]:
        self.settings.append(settings)

        def run(smaller: bool) -> dict[str, Audio]:
            self.passes.append(smaller)
            progress(0.5)
            if self.oom:
                self.oom -= 1
                raise out_of_memory()
            progress(1.0)
            half = audio * np.float32(settings["gain"] / 2)
            return {"left": half, "right": half.copy()}

        return self._retry_on_gpu_oom(progress, run, can_retry=self.can_retry)

    def _free_gpu_memory(self) -> None:
        self.freed += 1


def stereo(samples: int = 100) -> Audio:
    return np.linspace(-1, 1, 2 * samples, dtype=np.float32).reshape(2, samples)


# --- the checks before a separation ---------------------------------------------------


def test_an_unloaded_model_is_refused_before_any_pass() -> None:
    model = Halves()
    model.is_loaded = False
    with pytest.raises(ModelError, match=r"^fake:halves was not loaded$"):
        model.separate(stereo(), {}, lambda fraction: None)
    assert model.settings == []


@pytest.mark.parametrize("shape", [(1, 100), (100,), (3, 100), (2, 2, 100)])
def test_anything_but_stereo_is_refused(shape: tuple[int, ...]) -> None:
    model = Halves()
    with pytest.raises(ModelError, match=r"takes stereo audio \(2, samples\), got"):
        model.separate(np.zeros(shape, np.float32), {}, lambda fraction: None)
    assert model.settings == []


def test_params_are_resolved_and_bad_ones_are_model_errors() -> None:
    model = Halves()
    stems = model.separate(stereo(), {}, lambda fraction: None)
    assert model.settings == [{"gain": 1.0}]  # the default filled in
    np.testing.assert_array_equal(stems["left"], stereo() / 2)
    model.separate(stereo(), {"gain": 2}, lambda fraction: None)
    assert model.settings[-1] == {"gain": 2.0}
    with pytest.raises(ModelError, match=r"gain=3 is outside 0\.0\.\.2\.0"):
        model.separate(stereo(), {"gain": 3}, lambda fraction: None)
    with pytest.raises(ModelError, match="unknown params"):
        model.separate(stereo(), {"shifts": 1}, lambda fraction: None)
    assert len(model.settings) == 2


def test_empty_audio_gives_empty_stems_without_a_pass() -> None:
    model = Halves()
    audio = np.zeros((2, 0), np.float32)
    stems = model.separate(audio, {}, lambda fraction: None)
    assert set(stems) == {"left", "right"}
    assert all(s.shape == (2, 0) and s.dtype == np.float32 for s in stems.values())
    assert all(s is not audio for s in stems.values())  # copies: a later node may write
    assert model.passes == []


# --- running out of GPU memory --------------------------------------------------------


def test_out_of_gpu_memory_frees_the_cache_and_retries_once_smaller() -> None:
    """GIVEN a first pass that runs out of GPU memory half way WHEN separating THEN the
    cache is freed, one smaller pass runs on what is left of the bar, and its stems come
    back."""
    model = Halves(oom=1)
    reported: list[float] = []

    stems = model.separate(stereo(), {}, reported.append)

    assert model.passes == [False, True]
    assert model.freed == 1
    assert reported == [0.5, 0.75, 1.0]
    np.testing.assert_array_equal(stems["right"], stereo() / 2)
    # The smaller pass was for that separation only.
    model.passes.clear()
    model.separate(stereo(), {}, lambda fraction: None)
    assert model.passes == [False]


def test_out_of_gpu_memory_twice_is_a_model_error_that_says_what_to_do() -> None:
    model = Halves(oom=2)
    reported: list[float] = []
    with pytest.raises(ModelError) as caught:
        model.separate(stereo(), {}, reported.append)
    assert str(caught.value).startswith(
        "fake:halves ran out of GPU memory, even on a retry with half-length segments. "
        "Free GPU memory"
    )
    assert "STEMDECK_DEVICE=cpu" in str(caught.value)
    assert isinstance(caught.value.__cause__, torch.cuda.OutOfMemoryError)
    assert model.passes == [False, True]  # one retry, no third attempt
    assert model.freed == 2  # after each failed pass
    assert reported == [0.5, 0.75]


def test_a_model_that_cannot_run_smaller_fails_at_once() -> None:
    model = Halves(oom=1, can_retry=False)
    with pytest.raises(ModelError) as caught:
        model.separate(stereo(), {}, lambda fraction: None)
    assert str(caught.value).startswith("fake:halves ran out of GPU memory. Free GPU memory")
    assert model.passes == [False]
    assert model.freed == 1


def test_other_errors_are_not_retried() -> None:
    class Broken(Halves):
        def _separate(
            self, audio: Audio, settings: dict[str, float], progress: RestartableProgress
        ) -> dict[str, Audio]:
            def run(smaller: bool) -> dict[str, Audio]:
                self.passes.append(smaller)
                raise RuntimeError("shape mismatch")

            return self._retry_on_gpu_oom(progress, run)

    model = Broken()
    with pytest.raises(RuntimeError, match="shape mismatch"):
        model.separate(stereo(), {}, lambda fraction: None)
    assert model.passes == [False]
    assert model.freed == 0


def test_the_builtin_models_still_load_without_torch() -> None:
    """torch_base imports torch; base, which the DSP-only models use, must not."""
    code = (
        "import sys\n"
        "import stemdeck.worker.models.builtin, stemdeck.worker.models.cache\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
