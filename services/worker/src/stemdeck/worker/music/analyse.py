"""A song's tempo, beats, downbeats and key, from its audio (numpy in, dataclass out).

Everything runs on a mono mixdown at 22.05 kHz: onset strength in three bands
(rhythm.py) gives the tempo and the beats; a constant-Q chroma gives the key
(key.py) and, with the low band's onsets, which beat starts the bar
(downbeats.py). Beat times are rounded to milliseconds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import librosa
import numpy as np

from stemdeck.worker.music import rhythm
from stemdeck.worker.music.downbeats import BEATS_PER_BAR, bar_phase
from stemdeck.worker.music.key import Key, estimate_key

ANALYSIS_RATE = 22050
CHROMA_HOP = 1024
CHROMA_FMIN = 130.81  # C3
# Shorter than this, too few beats repeat for a tempo or a key to be trusted.
MIN_SECONDS = 4.0


@dataclass(frozen=True)
class MusicAnalysis:
    bpm: float | None  # None when no steady beat was found
    beats: tuple[float, ...]  # seconds from the start, to the millisecond
    downbeats: tuple[float, ...]  # the beats that start a bar (4/4 assumed)
    key: Key | None  # None when nothing pitched was heard


def analyse_music(audio: np.ndarray, sample_rate: int) -> MusicAnalysis:
    """``audio``: (channels, frames) or (frames,) float samples at ``sample_rate``."""
    y = _mono(audio, sample_rate)
    if len(y) < MIN_SECONDS * ANALYSIS_RATE or not np.any(y):
        return MusicAnalysis(None, (), (), None)
    # From C3 up: below it, kick drums and the bass's low harmonics smear the pitch classes
    # (a bass note's fifth harmonic is a major third: minor keys were heard as major).
    chroma = librosa.feature.chroma_cqt(
        y=y, sr=ANALYSIS_RATE, hop_length=CHROMA_HOP, fmin=CHROMA_FMIN, n_octaves=5
    )
    key = estimate_key(chroma.sum(axis=1))
    env = rhythm.onsets(y, ANALYSIS_RATE)
    guess = rhythm.tempo(env)
    beats = rhythm.track(env, guess) if guess > 0 else np.zeros(0)
    if len(beats) < BEATS_PER_BAR:
        return MusicAnalysis(None, (), (), key)
    bpm = rhythm.beat_tempo(beats, guess)
    phase = bar_phase(_low_at(env, beats), _chroma_at(chroma, beats))
    return MusicAnalysis(
        bpm=round(bpm, 2),
        beats=_ms(beats),
        downbeats=_ms(beats[phase::BEATS_PER_BAR]),
        key=key,
    )


def _mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=0)
    if sample_rate != ANALYSIS_RATE:
        samples = librosa.resample(samples, orig_sr=sample_rate, target_sr=ANALYSIS_RATE)
    return np.ascontiguousarray(samples)


def _low_at(env: rhythm.Onsets, beats: np.ndarray) -> np.ndarray:
    """The strongest low onset within a frame or two of each beat."""
    frames = np.round(beats * env.frame_rate).astype(int)
    padded = np.pad(env.low, 2)
    return np.array([padded[f : f + 5].max() for f in np.clip(frames, 0, len(env.low) - 1)])


def _chroma_at(chroma: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """The mean chroma from each beat to the next (to the end for the last)."""
    frames = np.round(beats * ANALYSIS_RATE / CHROMA_HOP).astype(int)
    edges = np.append(np.clip(frames, 0, chroma.shape[1] - 1), chroma.shape[1])
    return np.stack(
        [chroma[:, a : max(b, a + 1)].mean(axis=1) for a, b in itertools.pairwise(edges)],
        axis=1,
    )


def _ms(times: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(t), 3) for t in times)
