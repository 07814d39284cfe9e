"""The key of a piece from its chroma, by correlation with a key profile.

A key profile weighs the twelve pitch classes by how much they belong to a key
(Krumhansl and Kessler's listener ratings; Temperley's counts from the
Kostka-Payne corpus). The song's pitch-class distribution is compared with the
profile of each of the 24 keys (Pearson correlation), and the best one wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

PROFILES = {
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
        (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330),
    ),
}


@dataclass(frozen=True)
class Key:
    tonic: str  # "C", "C#", … (sharps only)
    mode: str  # "major" or "minor"
    confidence: float  # 0-1

    @property
    def name(self) -> str:
        return f"{self.tonic} {self.mode}"


def estimate_key(pitch_classes: np.ndarray, profile: str = "temperley") -> Key | None:
    """The best key for a 12-vector of pitch-class weights (C first); None when flat.

    ``confidence``: the square root of the winner's correlation, lowered when the
    runner-up (often the relative or parallel key) comes close: a lead of a quarter of
    the way to a perfect fit or more keeps it whole, no lead at all halves it.
    """
    weights = np.asarray(pitch_classes, dtype=np.float64)
    if weights.shape != (12,) or not np.isfinite(weights).all() or np.ptp(weights) <= 1e-9:
        return None
    scores = key_scores(weights, profile)  # (2, 12): major, minor by tonic
    mode_index, tonic = np.unravel_index(int(np.argmax(scores)), scores.shape)
    best = float(scores[mode_index, tonic])
    rivals = scores.copy()
    rivals[mode_index, tonic] = -np.inf
    runner_up = float(rivals.max())
    lead = (best - runner_up) / max(1e-9, 1 - runner_up)
    confidence = max(0.0, min(1.0, best)) ** 0.5 * min(1.0, 0.5 + 2 * lead)
    return Key(
        tonic=NOTE_NAMES[int(tonic)],
        mode=("major", "minor")[int(mode_index)],
        confidence=round(max(0.0, min(1.0, confidence)), 3),
    )


def key_scores(weights: np.ndarray, profile: str = "temperley") -> np.ndarray:
    """Pearson correlation with every key's profile: [major, minor] x tonic C..B."""
    major, minor = PROFILES[profile]
    centred = weights - weights.mean()
    out = np.empty((2, 12))
    for mode_index, base in enumerate((major, minor)):
        template = np.asarray(base) - np.mean(base)
        for tonic in range(12):
            rolled = np.roll(template, tonic)
            out[mode_index, tonic] = float(
                centred @ rolled / (np.linalg.norm(centred) * np.linalg.norm(rolled))
            )
    return out
