"""Which beat of each bar is the first: the phase of the bar in 4/4.

Two cues, both measured on the beats themselves: low onsets (kick and bass land
on the downbeat more than anywhere else) and harmonic change (chords change at
the start of a bar far more often than inside it).
"""

from __future__ import annotations

import numpy as np

BEATS_PER_BAR = 4


def bar_phase(low_at_beats: np.ndarray, chroma_at_beats: np.ndarray) -> int:
    """The index (0-3) of the first downbeat among the beats.

    ``low_at_beats``: the low-band onset strength at each beat; ``chroma_at_beats``:
    12 x beats, the pitch classes heard over each beat.
    """
    beats = len(low_at_beats)
    if beats < BEATS_PER_BAR:
        return 0
    change = np.zeros(beats)
    if chroma_at_beats.shape[1] == beats and beats > 1:
        normed = chroma_at_beats / (np.linalg.norm(chroma_at_beats, axis=0, keepdims=True) + 1e-9)
        before = np.concatenate([normed[:, :1], normed[:, :-1]], axis=1)
        change = 1.0 - np.sum(normed * before, axis=0)
    scores = [
        _z(low_at_beats)[phase::BEATS_PER_BAR].mean() + _z(change)[phase::BEATS_PER_BAR].mean()
        for phase in range(BEATS_PER_BAR)
    ]
    return int(np.argmax(scores))


def _z(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 1e-12 else np.zeros_like(values)
