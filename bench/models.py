"""Model benchmarks (`make bench`): prints a table and writes bench/RESULTS.md.

Measured side by side in one run, on this CPU:
1. the real-time factor of every model whose weights are ready here, on a 3-minute track,
   and of Demucs v4 with random weights in the released htdemucs architecture (same
   compute; its pretrained weights cannot be downloaded on these machines);
2. the worker's separation (the model's ``separate`` with the worker's progress adapter
   writing a real job row) against the bare model call on the same input (target ratio
   <= 1.10): demucs's ``apply_model`` for Demucs; for Spleeter, its math done whole in
   memory (one STFT, the U-Nets on the same segments, one inverse STFT), with the U-Net
   forwards alone shown beside it;
3. model load time once against the cost of the model on later jobs (a cache hit);
4. peak RSS of `stemdeck separate` (the worker's executor) for a 3- and a 30-minute track.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demucs.apply import apply_model  # noqa: E402
from demucs.htdemucs import HTDemucs  # noqa: E402

from bench.results import record, table  # noqa: E402
from bench.run import DATABASE_URL, tiled_track  # noqa: E402
from stemdeck.core import migrate  # noqa: E402
from stemdeck.core.catalog import CATALOG, ModelSpec  # noqa: E402
from stemdeck.core.lifecycle import JobLifecycle, new_job  # noqa: E402
from stemdeck.core.models import LOCAL_ADMIN_ID, new_job_id  # noqa: E402
from stemdeck.core.readiness import ModelStatus, model_readiness  # noqa: E402
from stemdeck.core.states import JobStatus  # noqa: E402
from stemdeck.worker.models import demucs as demucs_family  # noqa: E402
from stemdeck.worker.models.base import Audio, SeparationModel  # noqa: E402
from stemdeck.worker.models.cache import ModelCache  # noqa: E402
from stemdeck.worker.models.spleeter import (  # noqa: E402
    BINS,
    DEFAULT_EXTENSION,
    HOP,
    N_FFT,
    OVERLAP,
    SEGMENT,
    SpleeterModel,
    _crossfade,
    _extend,
    _ratio_masks,
    segment_starts,
)
from stemdeck.worker.progress import JobProgress  # noqa: E402
from tests.conftest import recreate_postgres_database  # noqa: E402
from tests.unit.test_demucs import FOUR, install  # noqa: E402

TRACK_S = 180
# Demucs runs at about real time here; a minute keeps its real-time factor short to measure.
DEMUCS_TRACK_S = 60
# Worker-vs-bare pairs run interleaved on a shorter excerpt, and the fastest of each
# counts: on a shared machine the minimum is the figure least touched by other load.
PAIR_S = 30
PAIR_RUNS = {"spleeter": 5, "demucs": 2}
RSS_TRACKS_S = (180, 1800)
RATIO_TARGET = 1.10
NOTES = """\
Spleeter's bare call is its math done whole in memory (the bench checks it gives the
worker's stems to 1e-4); the U-Net forwards alone are most of it, the STFT pair and the
masks the rest. Demucs runs with the catalog's settings (shifts 0, overlap 0.25) on random
weights in the released htdemucs layout, which cost what the pretrained ones do; its
pretrained weights, and RoFormer/MDX ones, cannot be downloaded on these machines.
Memory: models work through bounded segments, but a job holds its decoded input and
every stem in memory (float32 stereo, 10.6 MB a minute each), so peak RSS grows with the
track: about 1.3 GB of torch and weights plus a few times the decoded input. The longest
track a server accepts (STEMDECK_MAX_DURATION_S, 1800 s by default) bounds it."""


def read_stereo(path: Path) -> Audio:
    audio, _ = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.T)


def running_job() -> JobProgress:
    """The worker's progress adapter on a real, running job row."""
    recreate_postgres_database(DATABASE_URL)
    migrate.upgrade(DATABASE_URL)
    lifecycle = JobLifecycle(DATABASE_URL)
    job = new_job(
        new_job_id(),
        "bench",
        ["flac"],
        owner_id=LOCAL_ADMIN_ID,
        source_name="bench.wav",
        source_key="jobs/bench/source.wav",
        source_sha256="0" * 64,
        source_size_bytes=0,
        source_format="WAV",
        source_duration_s=TRACK_S,
        source_sample_rate=44_100,
        source_channels=2,
    )
    lifecycle.accept(job)
    attempt = lifecycle.claim(job.id, JobStatus.running)
    assert attempt is not None
    return JobProgress(lifecycle, attempt)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def fastest_pair(
    worker: Callable[[], object], bare: Callable[[], object], runs: int
) -> tuple[float, float]:
    """(worker s, bare s): each warmed up once, then run in turn, the fastest of each."""
    worker()
    bare()
    pairs = [(timed(worker), timed(bare)) for _ in range(runs)]
    return min(w for w, _ in pairs), min(b for _, b in pairs)


def ratio_row(name: str, worker_s: float, bare_s: float, runs: int) -> tuple[str, str, str]:
    ratio = worker_s / bare_s
    verdict = "PASS" if ratio <= RATIO_TARGET else "FAIL"
    return (
        name,
        f"{worker_s:.2f} s",
        f"ratio {ratio:.3f} to the bare call (target <= {RATIO_TARGET}) {verdict}; "
        f"fastest of {runs}",
    )


def worker_call(
    model: SeparationModel, spec: ModelSpec, audio: Audio, job: JobProgress
) -> Callable[[], object]:
    """The model as the worker runs it: the tree's per-node progress lands on the job row."""
    params = spec.resolve_params({})

    def run() -> object:
        return model.separate(
            audio, params, lambda fraction: job.update(f"separating: {spec.id}", fraction)
        )

    return run


def spleeter_unets_only(model: SpleeterModel, audio: Audio) -> Callable[[], object]:
    """The two U-Nets' forwards on exactly the segments the model runs, nothing else."""
    with torch.inference_mode():
        spectrum = torch.stft(
            torch.from_numpy(audio),
            N_FFT,
            HOP,
            window=torch.hann_window(N_FFT),
            pad_mode="constant",
            return_complex=True,
        )
    frames = spectrum.shape[-1]
    magnitude = torch.nn.functional.pad(spectrum[:, :BINS].abs(), (0, SEGMENT))
    batches = [
        magnitude[:, :, start : start + SEGMENT].transpose(1, 2).unsqueeze(0).contiguous()
        for start in segment_starts(frames, SEGMENT, OVERLAP)
    ]

    @torch.inference_mode()
    def run() -> object:
        return [[unet(batch) for unet in model.unets] for batch in batches]

    return run


def spleeter_in_memory(model: SpleeterModel, audio: Audio) -> Callable[[], Audio]:
    """The model's math done whole, in memory: one STFT of the track, the U-Nets on the
    same overlapping segments, their cross-faded masks, one inverse STFT. This is the bare
    model call (as demucs's apply_model includes its model's STFT); the worker's model does
    the same in a stream of segments so that memory stays bounded."""
    mix = torch.from_numpy(audio)
    window = torch.hann_window(N_FFT)
    fade = _crossfade(SEGMENT, OVERLAP, mix.device)

    @torch.inference_mode()
    def run() -> Audio:
        spectrum = torch.stft(
            mix, N_FFT, HOP, window=window, pad_mode="constant", return_complex=True
        )
        frames = spectrum.shape[-1]
        magnitude = spectrum[:, :BINS].abs()
        weighted = torch.zeros(len(model.unets), 2, BINS, frames)
        weights = torch.zeros(frames)
        for start in segment_starts(frames, SEGMENT, OVERLAP):
            stop = min(start + SEGMENT, frames)
            masks = _ratio_masks(model.unets, magnitude[..., start:stop], SEGMENT)
            weighted[..., start:stop] += masks * fade[: stop - start]
            weights[start:stop] += fade[: stop - start]
        masked = spectrum * _extend(weighted / weights, DEFAULT_EXTENSION)
        stems = torch.istft(
            masked.reshape(-1, N_FFT // 2 + 1, frames),
            N_FFT,
            HOP,
            window=window,
            length=mix.shape[1],
        )
        return stems.reshape(len(model.unets), 2, -1).numpy()

    return run


def demucs_standin(models_dir: Path) -> tuple[SeparationModel, ModelSpec]:
    """Random weights in the released htdemucs layout, saved as demucs saves them; the
    model is not loaded yet."""
    torch.manual_seed(0)
    net = HTDemucs(list(FOUR), dconv_mode=3, segment=Fraction(39, 5))
    spec = install(models_dir, "htdemucs_random", {"0d00d00d": net})
    return demucs_family.create(spec, models_dir), spec


def demucs_bare(model: SeparationModel, spec: ModelSpec, audio: Audio) -> Callable[[], object]:
    params = spec.resolve_params({})
    mix = torch.from_numpy(audio)
    mono = mix.mean(0)
    normalised = ((mix - mono.mean()) / (mono.std() + 1e-8))[None]
    net = model._model  # type: ignore[attr-defined]

    def run() -> object:
        return apply_model(
            net,
            normalised,
            shifts=int(params["shifts"]),
            split=True,
            overlap=params["overlap"],
            device="cpu",
        )

    return run


def peak_rss_mb(song: Path, models_dir: Path, out: Path) -> tuple[float, float]:
    """`stemdeck separate` on ``song`` with the vocals strategy: (peak RSS MB, seconds)."""
    env = {**os.environ, "STEMDECK_MODELS_DIR": str(models_dir), "STEMDECK_DATA_DIR": str(out)}
    command = [sys.executable, "-m", "stemdeck.core.cli", "separate", str(song)]
    command += ["--strategy", "vocals", "--format", "flac", "--out", str(out / "stems")]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"stemdeck separate failed on {song} (status {status})")
    return usage.ru_maxrss / 1024, seconds


def main() -> None:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="stemdeck-bench-models-") as scratch_name:
        scratch = Path(scratch_name)
        models_dir = scratch / "models"
        track = tiled_track(scratch / "track-3min.wav", TRACK_S)
        audio = read_stereo(track)
        job = running_job()

        # 1 + 3. Every ready model: load once, then the real-time factor of a warm call.
        cache = ModelCache(device="cpu", models_dir=models_dir)
        ready = [
            spec
            for spec in CATALOG.values()
            if model_readiness(spec, models_dir, downloads=False).status is ModelStatus.ready
        ]
        for spec in ready:
            load_s = timed(partial(cache.get, spec.id))
            hit_s = timed(partial(cache.get, spec.id))
            model = cache.get(spec.id)
            worker_call(model, spec, audio[:, : 10 * 44_100], job)()  # first-call warm-up
            seconds = timed(worker_call(model, spec, audio, job))
            rows.append(
                (
                    f"{spec.id}: {TRACK_S} s track",
                    f"{seconds:.2f} s",
                    f"{TRACK_S / seconds:.1f}x real time; load once {load_s:.2f} s, "
                    f"later jobs {hit_s * 1e6:.0f} us",
                )
            )

        # 2. Spleeter: the worker's call against the same math done whole in memory (which
        # must give the same stems), and the U-Net forwards alone for their share.
        excerpt = np.ascontiguousarray(audio[:, : PAIR_S * 44_100])
        spleeter = cache.get("spleeter:2stems")
        assert isinstance(spleeter, SpleeterModel)
        spec = CATALOG["spleeter:2stems"]
        whole = spleeter_in_memory(spleeter, excerpt)
        streamed = spleeter.separate(excerpt, {}, lambda fraction: None)
        np.testing.assert_allclose(
            np.stack([streamed[slot] for slot in spleeter.slots]), whole(), atol=1e-4
        )
        runs = PAIR_RUNS["spleeter"]
        worker_s, bare_s = fastest_pair(worker_call(spleeter, spec, excerpt, job), whole, runs)
        unets_s = min(timed(spleeter_unets_only(spleeter, excerpt)) for _ in range(runs))
        rows += [
            (
                f"spleeter:2stems, {PAIR_S} s: U-Net forwards alone",
                f"{unets_s:.2f} s",
                f"{unets_s / bare_s:.0%} of the bare call; fastest of {runs}",
            ),
            (f"spleeter:2stems, {PAIR_S} s: bare call, whole in memory", f"{bare_s:.2f} s", ""),
            ratio_row(f"spleeter:2stems, {PAIR_S} s: worker's separate()", worker_s, bare_s, runs),
        ]

        # 1 + 2 + 3. Demucs v4 in the released layout (random weights, same compute).
        demucs_model, demucs_spec = demucs_standin(scratch / "demucs-models")
        load_s = timed(partial(demucs_model.load, "cpu"))
        minute = np.ascontiguousarray(audio[:, : DEMUCS_TRACK_S * 44_100])
        seconds = timed(worker_call(demucs_model, demucs_spec, minute, job))
        rows.append(
            (
                f"htdemucs layout (random weights): {DEMUCS_TRACK_S} s track",
                f"{seconds:.2f} s",
                f"{DEMUCS_TRACK_S / seconds:.2f}x real time; load once {load_s:.2f} s",
            )
        )
        runs = PAIR_RUNS["demucs"]
        worker_s, bare_s = fastest_pair(
            worker_call(demucs_model, demucs_spec, excerpt, job),
            demucs_bare(demucs_model, demucs_spec, excerpt),
            runs,
        )
        rows += [
            (f"htdemucs layout, {PAIR_S} s: demucs apply_model", f"{bare_s:.2f} s", ""),
            ratio_row(f"htdemucs layout, {PAIR_S} s: worker's separate()", worker_s, bare_s, runs),
        ]

        # 4. Peak memory of the whole pipeline, short and long.
        for seconds in RSS_TRACKS_S:
            song = tiled_track(scratch / f"track-{seconds}s.wav", seconds)
            rss, wall = peak_rss_mb(song, models_dir, scratch / f"rss-{seconds}")
            decoded_mb = seconds * 44_100 * 2 * 4 / 2**20
            rows.append(
                (
                    f"stemdeck separate, vocals, {seconds // 60} min track: peak RSS",
                    f"{rss:.0f} MB",
                    f"{rss / decoded_mb:.1f}x the decoded input ({decoded_mb:.0f} MB); "
                    f"{wall:.0f} s",
                )
            )
            song.unlink()

    threads = torch.get_num_threads()
    rows.append(("torch threads", str(threads), f"{os.cpu_count()} cores"))
    record("Models", table(rows, ("measure", "value", "note")) + "\n\n" + NOTES)


if __name__ == "__main__":
    main()
