"""Generated songs whose tempo, beats, downbeats and key are known exactly.

Drums (kick on beats 1 and 3, snare on 2 and 4, hi-hats on the eighths, swung or
straight), a bass on the chord roots and sustained chords, in 4/4 at a stable
tempo. Used by bench/analysis.py and the analyser's unit tests; the timing of
every hit is a little off the grid (a few ms), as a player's would be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 22050
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Chord roots as semitones above the tonic, with the chord's quality. Minor keys use the
# harmonic minor's major V, which is what tells a minor key from its relative major.
MAJOR_PROGRESSIONS = (
    ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),  # I IV V I
    ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),  # I vi IV V
    ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),  # I V vi IV
    ((0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")),  # I IV I V
)
MINOR_PROGRESSIONS = (
    ((0, "min"), (5, "min"), (7, "maj"), (0, "min")),  # i iv V i
    ((0, "min"), (8, "maj"), (5, "min"), (7, "maj")),  # i VI iv V
    ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj")),  # i VII VI V
    ((0, "min"), (5, "min"), (0, "min"), (7, "maj")),  # i iv i V
)
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}


@dataclass(frozen=True)
class SongSpec:
    bpm: float
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor"
    swing: float = 0.0  # how late the off-beat eighth comes, as a share of the eighth
    progression: int = 0
    bars: int = 12
    seed: int = 0

    @property
    def key_name(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class Song:
    spec: SongSpec
    audio: np.ndarray  # mono float32 at SAMPLE_RATE
    beats: np.ndarray  # seconds
    downbeats: np.ndarray


def render(spec: SongSpec, sample_rate: int = SAMPLE_RATE) -> Song:
    rng = np.random.default_rng(spec.seed)
    beat_s = 60.0 / spec.bpm
    lead_in = 0.25  # the first downbeat is not at sample 0, as in a real file
    beats = lead_in + np.arange(spec.bars * 4) * beat_s
    total = beats[-1] + beat_s + 1.0
    out = np.zeros(int(total * sample_rate) + 1, dtype=np.float64)

    def place(sound: np.ndarray, at: float, gain: float) -> None:
        start = max(0, round((at + rng.normal(0, 0.004)) * sample_rate))
        end = min(start + len(sound), len(out))
        out[start:end] += gain * sound[: end - start]

    kick, snare, hat = _kick(sample_rate), _snare(sample_rate, rng), _hat(sample_rate, rng)
    for i, beat in enumerate(beats):
        place(kick if i % 2 == 0 else snare, beat, 0.9 if i % 2 == 0 else 0.6)
        place(hat, beat, 0.25)
        place(hat, beat + beat_s * (0.5 + spec.swing / 2), 0.18)

    progressions = MINOR_PROGRESSIONS if spec.mode == "minor" else MAJOR_PROGRESSIONS
    chords = progressions[spec.progression % len(progressions)]
    bar_s = 4 * beat_s
    for bar in range(spec.bars):
        root, quality = chords[bar % len(chords)]
        at = beats[bar * 4]
        pitch_class = (spec.tonic + root) % 12
        for half in (0, 2):  # bass on beats 1 and 3
            place(
                _tone(36 + pitch_class, 2 * beat_s * 0.9, sample_rate, 6, 4.0),
                at + half * beat_s,
                0.5,
            )
        for interval in TRIADS[quality]:
            midi = 60 + (pitch_class + interval) % 12
            place(_tone(midi, bar_s * 0.95, sample_rate, 4, 1.0), at, 0.12)

    audio = (out / (np.max(np.abs(out)) + 1e-9) * 0.8).astype(np.float32)
    return Song(spec, audio, beats, beats[::4])


def _env(length: int, sample_rate: int, decay_s: float, attack_s: float = 0.002) -> np.ndarray:
    t = np.arange(length) / sample_rate
    return np.minimum(1.0, t / attack_s) * np.exp(-t / decay_s)


def _kick(sample_rate: int) -> np.ndarray:
    n = int(0.35 * sample_rate)
    t = np.arange(n) / sample_rate
    freq = 50 + 90 * np.exp(-t / 0.03)
    return np.asarray(
        np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * _env(n, sample_rate, 0.12)
    )


def _snare(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * sample_rate)
    t = np.arange(n) / sample_rate
    noise = np.diff(rng.normal(0, 0.5, n + 1))  # tilted toward the highs
    body = np.sin(2 * np.pi * 190 * t)
    return (
        np.asarray(noise * _env(n, sample_rate, 0.06) + 0.6 * body * _env(n, sample_rate, 0.04))
        * 0.8
    )


def _hat(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.08 * sample_rate)
    noise = np.diff(np.diff(rng.normal(0, 0.3, n + 2)))
    return np.asarray(noise * _env(n, sample_rate, 0.02, 0.0005))


def _tone(
    midi: int, seconds: float, sample_rate: int, harmonics: int, decay_s: float
) -> np.ndarray:
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, harmonics + 1))
    release = np.minimum(1.0, (n - np.arange(n)) / (0.02 * sample_rate))
    return np.asarray(wave * _env(n, sample_rate, decay_s, 0.01) * release)


def generated_set() -> list[SongSpec]:
    """48 songs: every key twice (straight and swung), tempi spread over 60-180 BPM."""
    specs = []
    for index in range(48):
        key = index % 24
        swung = index >= 24
        bpm = 60.0 + (index * 53) % 121  # every tempo from 60 to 180 gets near a song
        specs.append(
            SongSpec(
                bpm=bpm,
                tonic=key % 12,
                mode="minor" if key >= 12 else "major",
                swing=1 / 3 if swung else 0.0,
                progression=index // 3,
                seed=index,
            )
        )
    return specs


# --- scores, as MIREX computes them -------------------------------------------------------

BEAT_WINDOW_S = 0.07
FIFTHS = {7, 5}


def beat_f_measure(
    reference: np.ndarray, estimated: np.ndarray, window: float = BEAT_WINDOW_S
) -> float:
    """F-measure of beat times: an estimate within ``window`` of a reference beat, each
    matched at most once (greedy in time order, exact while the window is under half a
    beat)."""
    if len(reference) == 0 or len(estimated) == 0:
        return 0.0
    matched, j = 0, 0
    used = np.zeros(len(reference), dtype=bool)
    for beat in np.sort(estimated):
        while j < len(reference) and reference[j] < beat - window:
            j += 1
        for k in range(j, len(reference)):
            if reference[k] > beat + window:
                break
            if not used[k]:
                used[k], matched = True, matched + 1
                break
    precision, recall = matched / len(estimated), matched / len(reference)
    return 0.0 if matched == 0 else 2 * precision * recall / (precision + recall)


def tempo_verdict(reference: float, estimated: float | None, tolerance: float = 0.04) -> str:
    """ "correct" within ``tolerance``; "octave" at twice, half, three times or a third of
    it; else "wrong"."""
    if not estimated:
        return "wrong"
    if abs(estimated - reference) <= tolerance * reference:
        return "correct"
    for factor in (2.0, 0.5, 3.0, 1 / 3):
        if abs(estimated - reference * factor) <= tolerance * reference * factor:
            return "octave"
    return "wrong"


def key_score(tonic: int, mode: str, est_tonic: int | None, est_mode: str | None) -> float:
    """MIREX weighted key score: 1 same key, 0.5 a fifth away (same mode), 0.3 relative,
    0.2 parallel, 0 otherwise."""
    if est_tonic is None or est_mode is None:
        return 0.0
    interval = (est_tonic - tonic) % 12
    if est_mode == mode:
        return 1.0 if interval == 0 else 0.5 if interval in FIFTHS else 0.0
    if interval == 0:
        return 0.2
    relative = 9 if mode == "major" else 3  # C major -> A minor; A minor -> C major
    return 0.3 if interval == relative else 0.0
