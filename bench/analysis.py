"""Music analysis accuracy and cost (`make bench`): tempo, beats, downbeats and key.

Accuracy on generated songs whose answers are known (bench/songs.py: drums, bass
and chords in 4/4, 60-180 BPM, all 24 keys, straight and swung), scored as MIREX
does: tempo within 4 % (octave errors counted apart), beat F-measure within
±70 ms, MIREX-weighted key score. The shared songs in ../shared/audio carry no
tempo, beat or key annotations, so for them this prints what the analyser says
(on the mixture and on the drum stem) and no accuracy. Cost: the analysis of a
3:30 track on two cores, alone and as part of a four-stems-dsp separation.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from unittest.mock import patch

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import record, table  # noqa: E402
from bench.run import tiled_track  # noqa: E402
from bench.songs import (  # noqa: E402
    NOTE_NAMES,
    SAMPLE_RATE,
    SongSpec,
    beat_f_measure,
    generated_set,
    key_score,
    render,
    tempo_verdict,
)
from stemdeck.core.probe import probe  # noqa: E402
from stemdeck.core.strategies import load_strategies_file  # noqa: E402
from stemdeck.worker import executor  # noqa: E402
from stemdeck.worker.models.base import SAMPLE_RATE as WORKER_RATE  # noqa: E402
from stemdeck.worker.models.cache import ModelCache  # noqa: E402
from stemdeck.worker.music import MusicAnalysis, analyse_music  # noqa: E402
from tests.conftest import SHARED_AUDIO, SONGS  # noqa: E402

CORES = 2
TRACK_S = 210
RUNS = 4
STRATEGY = "four-stems-dsp"
TARGETS = {"tempo": 0.95, "beat F": 0.9, "key": 0.8}
KEY_RELATIONS = {1.0: "same", 0.5: "fifth", 0.3: "relative", 0.2: "parallel", 0.0: "other"}


def score(spec: SongSpec) -> dict[str, float | str]:
    song = render(spec)
    result = analyse_music(song.audio, SAMPLE_RATE)
    key = result.key
    return {
        "tempo": tempo_verdict(spec.bpm, result.bpm),
        "beat F": beat_f_measure(song.beats, np.array(result.beats)),
        "downbeat F": beat_f_measure(song.downbeats, np.array(result.downbeats)),
        "key": key_score(
            spec.tonic,
            spec.mode,
            NOTE_NAMES.index(key.tonic) if key else None,
            key.mode if key else None,
        ),
        "confidence": key.confidence if key else 0.0,
    }


def summary(label: str, scores: list[dict[str, float | str]]) -> tuple[str, ...]:
    tempo = Counter(s["tempo"] for s in scores)
    n = len(scores)
    return (
        label,
        str(n),
        f"{tempo['correct'] / n:.1%}",
        f"{tempo['octave'] / n:.1%}",
        f"{np.mean([s['beat F'] for s in scores]):.3f}",
        f"{np.mean([s['downbeat F'] for s in scores]):.3f}",
        f"{np.mean([s['key'] for s in scores]):.3f}",
    )


def accuracy() -> tuple[str, dict[str, float]]:
    specs = generated_set()
    scores = [score(spec) for spec in specs]
    groups: list[tuple[str, Callable[[SongSpec], bool]]] = [
        ("all", lambda s: True),
        ("straight", lambda s: s.swing == 0),
        ("swung (triplet eighths)", lambda s: s.swing > 0),
        ("60-99 BPM", lambda s: s.bpm < 100),
        ("100-139 BPM", lambda s: 100 <= s.bpm < 140),
        ("140-180 BPM", lambda s: s.bpm >= 140),
        ("major keys", lambda s: s.mode == "major"),
        ("minor keys", lambda s: s.mode == "minor"),
    ]
    rows = [
        summary(label, [sc for spec, sc in zip(specs, scores, strict=True) if keep(spec)])
        for label, keep in groups
    ]
    headers = ("songs", "n", "tempo ±4 %", "octave errors", "beat F", "downbeat F", "key")
    relations = Counter(KEY_RELATIONS[float(s["key"])] for s in scores)
    right = [float(s["confidence"]) for s in scores if s["key"] == 1.0]
    wrong = [float(s["confidence"]) for s in scores if s["key"] != 1.0]
    totals = {
        "tempo": Counter(s["tempo"] for s in scores)["correct"] / len(scores),
        "beat F": float(np.mean([s["beat F"] for s in scores])),
        "key": float(np.mean([s["key"] for s in scores])),
    }
    verdicts = ", ".join(
        f"{name} {value:.3f} (target >= {TARGETS[name]}) "
        f"{'PASS' if value >= TARGETS[name] else 'FAIL'}"
        for name, value in totals.items()
    )
    notes = [
        f"Targets: {verdicts}.",
        "Keys found: " + ", ".join(f"{relations[r]} {r}" for r in KEY_RELATIONS.values()) + ".",
        f"Key confidence: mean {np.mean(right):.2f} when right"
        + (f", {np.mean(wrong):.2f} when not." if wrong else "; none wrong."),
    ]
    return table(rows, headers) + "\n\n" + "\n".join(f"- {n}" for n in notes), totals


def shared_songs() -> str:
    rows = []
    for song in SONGS:
        for stem in ("mixture", "drums"):
            audio, rate = sf.read(SHARED_AUDIO / song / f"{stem}.wav", dtype="float32")
            result = analyse_music(audio.T, rate)
            rows.append((song, stem, *_described(result)))
    headers = ("song", "analysed", "BPM", "first beats (s)", "first downbeat", "key")
    return table(rows, headers) + (
        "\n\nNo accuracy for these: the excerpts (6-7 s) carry no tempo, beat or key "
        "annotations, and none were made up. Where mixture and drum stem disagree, at "
        "least one of them is wrong. Expect real music to score below the generated set: "
        "that set keeps every assumption the analyser makes (4/4, a back beat on 2 and 4, "
        "chords that change on the bar line, a steady tempo, in-scale harmony), and real "
        "songs break them (other metres, tempo drift, no drums, modal or borrowed "
        "harmony, key changes, vocals and distortion in the chroma)."
    )


def _described(result: MusicAnalysis) -> tuple[str, ...]:
    bpm = f"{result.bpm:.1f}" if result.bpm else "none"
    beats = ", ".join(f"{b:.2f}" for b in result.beats[:4]) or "none"
    first = f"{result.downbeats[0]:.2f}" if result.downbeats else "none"
    key = f"{result.key.name} ({result.key.confidence:.2f})" if result.key else "none"
    return bpm, beats, first, key


def cost(scratch: Path) -> str:
    track = tiled_track(scratch / "track.wav", TRACK_S)
    audio, rate = sf.read(track, dtype="float32", always_2d=True)
    stereo = np.ascontiguousarray(audio.T)
    analyse_music(stereo[:, : rate * 10], rate)  # imports and first calls out of the way
    wall, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        analyse_music(stereo, rate)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    with_s, without_s = _separations(track, scratch)
    added = with_s - without_s
    load = os.getloadavg()[0]
    return (
        table(
            [
                (
                    f"analysis alone, {TRACK_S} s track",
                    f"{min(wall):.2f} s",
                    f"CPU {min(cpu):.2f} s",
                ),
                (f"{STRATEGY} separation with analysis", f"{with_s:.2f} s", ""),
                (f"{STRATEGY} separation without analysis", f"{without_s:.2f} s", ""),
                ("added to the separation", f"{added:+.2f} s", f"{added / without_s:+.1%}"),
            ],
            ("measure", f"wall (best of {RUNS})", "note"),
        )
        + f"\n\nLoad average when done: {load:.1f}."
    )


def _separations(track: Path, scratch: Path) -> tuple[float, float]:
    """Best wall times of the separation with and without the analysis, run by turns so
    that both see the same load."""
    strategy = load_strategies_file(None)[STRATEGY]
    models, info = ModelCache(device="cpu"), probe(track)
    stub = MusicAnalysis(None, (), (), None)
    times: dict[bool, list[float]] = {True: [], False: []}
    for run in range(RUNS):
        for analysed in (True, False):
            with ExitStack() as stack:
                if not analysed:
                    stack.enter_context(patch.object(executor, "analyse_music", lambda *_: stub))
                out = scratch / f"{analysed}-{run}"
                started = time.perf_counter()
                executor.separate_file(track, info, strategy, ["flac"], out, models, _quiet)
                times[analysed].append(time.perf_counter() - started)
    return min(times[True]), min(times[False])


def _quiet(stage: str, fraction: float) -> None:
    pass


def main() -> None:
    # The worker's size on a small server: measured on two cores wherever this runs.
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cores[:CORES])
    assert WORKER_RATE == 44100
    generated, _ = accuracy()
    with tempfile.TemporaryDirectory(prefix="stemdeck-analysis-") as scratch:
        timing = cost(Path(scratch))
    body = "\n\n".join(
        [
            "Generated songs (bench/songs.py; 4/4, kick on 1 and 3, snare on 2 and 4):",
            generated,
            "Shared songs (../shared/audio):",
            shared_songs(),
            f"Cost on {min(CORES, len(cores))} cores ({TRACK_S} s: the shared excerpt tiled):",
            timing,
        ]
    )
    record("Music analysis (tempo, beats, key)", body)


if __name__ == "__main__":
    main()
