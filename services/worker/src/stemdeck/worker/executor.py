"""One separation from input file to finished stem files, shared by the RQ task and the CLI.

decode -> strategy tree -> one common gain if any stem would clip -> per stem:
encode every format, measure loudness and peak, draw the waveform.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stemdeck.core.formats import FORMATS
from stemdeck.core.probe import AudioInfo
from stemdeck.core.strategies import Strategy
from stemdeck.worker.analysis import loudness, waveform_peaks, waveform_png
from stemdeck.worker.audio import decode
from stemdeck.worker.encode import encode
from stemdeck.worker.models.base import SAMPLE_RATE, Audio
from stemdeck.worker.models.cache import ModelCache
from stemdeck.worker.music import MusicAnalysis, analyse_music
from stemdeck.worker.tree import run_tree

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]
"""(stage label, fraction 0-1 of the executor's work); the fraction only moves forward."""

DECODED = 0.05
SEPARATED = 0.85
# libsndfile's encoders release the GIL, so stems encode in parallel on this many cores.
ENCODER_THREADS = 2
# Where the loudest sample lands when stems must be turned down: just under full scale,
# with a little room for the overshoot of lossy encoders.
HEADROOM_PEAK_DBFS = -0.1


@dataclass
class RenderedStem:
    name: str
    duration_s: float
    lufs: float | None
    peak_dbfs: float | None
    files: dict[str, Path]  # format id -> encoded file in out_dir
    waveform_json: Path
    waveform_png: Path


@dataclass
class SeparationResult:
    stems: list[RenderedStem]  # in strategy.stems order
    notes: list[str]  # for the user, e.g. the headroom gain applied
    duration_s: float
    gain_db: float = 0.0  # applied to every stem (negative: turned down so nothing clips)
    music: MusicAnalysis | None = None  # tempo, beats, key; None when the analysis failed


def separate_file(
    input_path: Path,
    info: AudioInfo,
    strategy: Strategy,
    formats: Sequence[str],
    out_dir: Path,
    models: ModelCache,
    progress: ProgressFn,
) -> SeparationResult:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown output format(s) {unknown} (known: {', '.join(FORMATS)})")
    formats = list(dict.fromkeys(formats))
    out_dir.mkdir(parents=True, exist_ok=True)

    progress("decoding", 0.0)
    audio = decode(input_path, info)
    frames = audio.shape[1]
    input_peak = _peak(audio)
    notes = []
    if info.channels > 2:
        notes.append(f"The {info.channels}-channel input was mixed down to stereo.")
    progress("decoding", DECODED)

    def tree_progress(label: str, fraction: float) -> None:
        progress(label, DECODED + (SEPARATED - DECODED) * fraction)

    # The mixture's tempo and key are worked out beside the separation, on a core that a
    # DSP strategy leaves idle; a model that uses every core only loses it for a second.
    analyser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="music-analysis")
    try:
        # Its own mono copy: the thread never reads what a model might be writing.
        music_future = analyser.submit(_music, audio.mean(axis=0))
        stems = run_tree(strategy, audio, models, tree_progress)
        del audio  # the stems are all that is needed from here on
        music = music_future.result()
    finally:
        # A failed or cancelled separation does not wait for the analysis.
        analyser.shutdown(wait=False, cancel_futures=True)
    gain_db, headroom_note = _apply_headroom(stems, input_peak)
    if headroom_note:
        notes.append(headroom_note)

    rendered = _render(stems, strategy.stems, formats, out_dir, progress)
    return SeparationResult(
        stems=rendered,
        notes=notes,
        duration_s=frames / SAMPLE_RATE,
        gain_db=gain_db,
        music=music,
    )


def _music(audio: Audio) -> MusicAnalysis | None:
    """The mixture's analysis, or None: a song whose analysis fails still gets its stems."""
    try:
        return analyse_music(audio, SAMPLE_RATE)
    except Exception:
        log.exception("the music analysis failed; the job completes without it")
        return None


def _peak(audio: Audio) -> float:
    return float(max(audio.max(), -audio.min()))


def _apply_headroom(stems: dict[str, Audio], input_peak: float) -> tuple[float, str | None]:
    """Turn every stem down by one gain if any exceeds full scale; the note says so."""
    peak = max(_peak(stem) for stem in stems.values())
    if peak <= 1.0:
        return 0.0, None
    gain = 10 ** (HEADROOM_PEAK_DBFS / 20) / peak
    for name, stem in stems.items():
        stems[name] = stem * np.float32(gain)  # a copy: a model may hand back shared arrays
    cut_db = -20 * math.log10(gain)
    if input_peak > 1.0:
        cause = f"The input peaked at {20 * math.log10(input_peak):+.1f} dBFS"
    else:
        cause = f"Separation pushed a stem to {20 * math.log10(peak):+.1f} dBFS"
    return -cut_db, f"{cause}; every stem was turned down by {cut_db:.1f} dB so nothing clips."


def _render(
    stems: dict[str, Audio],
    names: Sequence[str],
    formats: Sequence[str],
    out_dir: Path,
    progress: ProgressFn,
) -> list[RenderedStem]:
    """Encodes and analyses every stem, as many at once as there are encoder threads."""
    pool = ThreadPoolExecutor(max_workers=ENCODER_THREADS)
    try:
        encodes: list[Future[None]] = []
        analyses: list[Future[RenderedStem]] = []
        for name in names:
            stem = stems.pop(name)  # freed as soon as its last task is done
            files = {format_id: out_dir / f"{name}.{format_id}" for format_id in formats}
            encodes += [pool.submit(encode, stem, f, path) for f, path in files.items()]
            analyses.append(pool.submit(_analyse, name, stem, files, out_dir))
        tasks: list[Future[Any]] = [*encodes, *analyses]
        for done, task in enumerate(as_completed(tasks), 1):
            task.result()  # a failed encode raises here
            progress("encoding", SEPARATED + (1 - SEPARATED) * done / len(tasks))
        return [analysis.result() for analysis in analyses]
    finally:
        # After a failure, or a cancelled job (progress raises), queued work is dropped.
        pool.shutdown(cancel_futures=True)


def _analyse(name: str, stem: Audio, files: dict[str, Path], out_dir: Path) -> RenderedStem:
    lufs, peak_dbfs = loudness(stem)
    peaks = waveform_peaks(stem)
    json_path = out_dir / f"{name}.waveform.json"
    png_path = out_dir / f"{name}.waveform.png"
    json_path.write_text(json.dumps(peaks, separators=(",", ":")), encoding="utf-8")
    png_path.write_bytes(waveform_png(peaks))
    return RenderedStem(
        name=name,
        duration_s=stem.shape[1] / SAMPLE_RATE,
        lufs=lufs,
        peak_dbfs=peak_dbfs,
        files=files,
        waveform_json=json_path,
        waveform_png=png_path,
    )
