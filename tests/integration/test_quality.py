"""A floor on separation quality, so a broken model port cannot pass.

GIVEN the test songs with their true stems, WHEN the worker separates them with
Spleeter's `vocals` strategy, THEN the vocals are far better than a trivial
estimate (silence scores 0 dB, the mixture itself about -3 dB) and better than
the signal-processing-only strategy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdeck.core.settings import Settings
from stemdeck.core.storage import make_storage
from stemdeck.worker.main import build_worker
from stemdeck.worker.metrics import global_sdr
from tests.conftest import SONGS
from tests.integration.factories import queued_job
from tests.integration.test_worker import load

VOCALS_SDR_FLOOR_DB = 6.0


def vocals_sdr(settings: Settings, shared_audio: Path, strategy: str) -> list[float]:
    jobs = {
        song: queued_job(settings, shared_audio / song / "mixture.wav", strategy, ("wav24",))
        for song in SONGS
    }
    build_worker(settings, name="quality").work(burst=True)
    storage = make_storage(settings)
    scores = []
    for song, job_id in jobs.items():
        job = load(settings, job_id)
        assert job.status == "completed", job.error
        [vocals] = [stem for stem in job.stems if stem.name == "vocals"]
        with storage.local_path(vocals.keys["wav24"]) as path:
            estimate, _ = sf.read(path, dtype="float64")
        reference, _ = sf.read(shared_audio / song / "vocals.wav", dtype="float64")
        scores.append(global_sdr(reference, estimate * 10 ** (-job.output_gain_db / 20)))
    return scores


def test_spleeter_vocals_clear_the_floor_and_beat_signal_processing(
    settings: Settings, shared_audio: Path
) -> None:
    spleeter = vocals_sdr(settings, shared_audio, "vocals")
    dsp = vocals_sdr(settings, shared_audio, "four-stems-dsp")
    assert np.mean(spleeter) > VOCALS_SDR_FLOOR_DB, spleeter
    assert np.mean(spleeter) > np.mean(dsp) + 3.0, (spleeter, dsp)


def test_the_metric_itself() -> None:
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((1000, 2))
    assert global_sdr(signal, np.zeros_like(signal)) == 0.0
    assert global_sdr(signal, signal) == float("inf")
    assert global_sdr(signal, 0.9 * signal) == pytest.approx(20.0)
