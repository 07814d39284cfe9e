"""Tempo and beats from onset strength (librosa), for music in 4/4.

The tempo's octave is where a plain autocorrelation goes wrong most (a 60 BPM
ballad heard at 120, a 180 BPM punk song at 90), so it is chosen among the
candidate periods by how periodic the onsets are at that period and by the back
beat: at the beat's period a low onset (kick) is answered by a mid one (snare),
not by another low one, while at twice the period it is the kick that comes back
(beats 1 and 3) and at half the period neither does. A weak prior toward
moderate tempi settles what these leave open (four-on-the-floor, no drums).
Swung eighths make three beats look like one slow beat with a back beat of its
own, so of the levels that score about as well as the best, the fastest wins.
The beats are then tracked at that tempo by librosa's dynamic programming.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

HOP = 256
MIN_BPM, MAX_BPM = 50.0, 210.0
LOW_HZ, MID_HZ = 150.0, 3000.0
BACKBEAT_WEIGHT = 1.0
PRIOR_WEIGHT = 0.1
STRONG_PEAK = 0.75
NEAR_BEST = 0.1  # "about as well": within a tenth of the best score
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0


@dataclass(frozen=True)
class Onsets:
    """Onset strength per frame: over all bands, below LOW_HZ, and LOW_HZ to MID_HZ."""

    full: np.ndarray
    low: np.ndarray
    mid: np.ndarray
    sample_rate: int

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / HOP


def onsets(y: np.ndarray, sr: int) -> Onsets:
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=HOP, n_mels=96)
    db = librosa.power_to_db(mel, ref=np.max)
    freqs = librosa.mel_frequencies(n_mels=96, fmax=sr / 2)
    low_edge = int(np.searchsorted(freqs, LOW_HZ))
    mid_edge = int(np.searchsorted(freqs, MID_HZ))
    bands = librosa.onset.onset_strength_multi(
        S=db, sr=sr, hop_length=HOP, channels=[0, low_edge, mid_edge]
    )
    full = librosa.onset.onset_strength(S=db, sr=sr, hop_length=HOP)
    return Onsets(full=full, low=bands[0], mid=bands[1], sample_rate=sr)


def _normalised_xcorr(a: np.ndarray, b: np.ndarray, max_lag: int) -> np.ndarray:
    """corr(a[t], b[t + lag]) for lag 0..max_lag, each over the frames both cover."""
    a = a - a.mean()
    b = b - b.mean()
    n = len(a)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.conj(np.fft.rfft(a, size)) * np.fft.rfft(b, size)
    raw = np.fft.irfft(spectrum, size)[: max_lag + 1]
    overlap = n - np.arange(max_lag + 1)
    return np.asarray(raw / overlap / (a.std() * b.std() + 1e-12))


def tempo(env: Onsets) -> float:
    """The beat's tempo in BPM, or 0 when the onsets show no periodicity."""
    fr = env.frame_rate
    max_lag = int(np.ceil(fr * 60 / MIN_BPM * 2))
    if len(env.full) < 2 * max_lag:
        max_lag = len(env.full) // 2
    acf = _normalised_xcorr(env.full, env.full, max_lag)
    # Low onsets answered by mid ones, less low ones answered by low ones.
    backbeat = _normalised_xcorr(env.low, env.mid, max_lag) - _normalised_xcorr(
        env.low, env.low, max_lag
    )
    lags = np.arange(int(fr * 60 / MAX_BPM), min(max_lag, int(fr * 60 / MIN_BPM)) + 1)
    if len(lags) < 3 or acf[lags].max() <= 0:
        return 0.0
    values = acf[lags]
    peaks = [
        int(lags[i])
        for i in range(1, len(lags) - 1)
        if values[i] >= values[i - 1] and values[i] >= values[i + 1]
    ]
    strongest = int(lags[np.argmax(values)])
    # Candidates: the strong peaks, and the octaves of the strongest (where the beat's
    # level may be a weaker peak). A weak peak in another ratio is a rhythm, not the beat.
    candidates = {lag for lag in peaks if acf[lag] >= STRONG_PEAK * acf[strongest]}
    candidates |= {
        _peak_near(acf, strongest * factor, lags[0], lags[-1])
        for factor in (0.25, 0.5, 2.0, 4.0)
        if lags[0] <= strongest * factor <= lags[-1]
    }
    scores = {lag: _score(acf, backbeat, lag, 60 * fr / lag) for lag in candidates | {strongest}}
    # Swing: three beats look like one slow beat with its own back beat (module docstring).
    top = max(scores.values())
    best = min(lag for lag, score in scores.items() if score >= top - NEAR_BEST * abs(top))
    return float(60 * fr / _refine(acf, best))


def _peak_near(curve: np.ndarray, lag: float, lowest: int, highest: int) -> int:
    """The highest point of ``curve`` within 3 % of ``lag`` (the octave of a rounded lag
    is off by up to a frame or two)."""
    lo = max(lowest, int(np.floor(lag * 0.97)))
    hi = min(highest, int(np.ceil(lag * 1.03)))
    return lo + int(np.argmax(curve[lo : hi + 1]))


def _score(acf: np.ndarray, backbeat: np.ndarray, lag: int, bpm: float) -> float:
    # The peaks of the cross-correlations may fall a frame off the autocorrelation's.
    near = slice(max(0, lag - 1), lag + 2)
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    return float(acf[lag] + BACKBEAT_WEIGHT * backbeat[near].max() + PRIOR_WEIGHT * prior)


def _refine(curve: np.ndarray, lag: int) -> float:
    """The peak's lag to a fraction of a frame (a parabola through it and its neighbours)."""
    if not 0 < lag < len(curve) - 1:
        return float(lag)
    left, centre, right = curve[lag - 1], curve[lag], curve[lag + 1]
    denominator = left - 2 * centre + right
    if denominator >= 0:
        return float(lag)
    return float(lag + 0.5 * (left - right) / denominator)


def track(env: Onsets, bpm: float) -> np.ndarray:
    """Beat times (seconds) following the onsets at about ``bpm``."""
    _, frames = librosa.beat.beat_track(
        onset_envelope=env.full,
        sr=env.sample_rate,
        hop_length=HOP,
        bpm=bpm,
        tightness=200,
        trim=True,
    )
    return np.asarray(frames, dtype=np.float64) / env.frame_rate


def beat_tempo(beats: np.ndarray, fallback: float) -> float:
    """The tempo the beats keep: their mean gap, leaving out gaps a quarter off the median
    (a beat the tracker skipped or added)."""
    if len(beats) < 4:
        return fallback
    gaps = np.diff(beats)
    typical = np.median(gaps)
    steady = np.abs(gaps - typical) < 0.25 * typical
    if steady.sum() < 3:
        return fallback
    return float(60.0 / gaps[steady].mean())
