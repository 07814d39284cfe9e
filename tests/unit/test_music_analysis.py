"""The worker's tempo, beat and key analysis on generated songs whose answers are known.

The floors are far above chance (a random tempo lands within 4 % of the truth or an
octave of it less than one time in ten, a random key scores under 0.1), so a broken
analyser cannot pass; bench/analysis.py measures the accuracy on a larger set.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.songs import (
    NOTE_NAMES,
    SAMPLE_RATE,
    SongSpec,
    beat_f_measure,
    key_score,
    render,
    tempo_verdict,
)
from stemdeck.worker.music import analyse_music
from stemdeck.worker.music.key import estimate_key

SONGS = [
    SongSpec(bpm=96.0, tonic=9, mode="minor", bars=8, seed=1),  # A minor
    SongSpec(bpm=140.0, tonic=2, mode="major", swing=1 / 3, progression=1, bars=8, seed=2),
    SongSpec(bpm=68.0, tonic=7, mode="major", progression=2, bars=6, seed=3),
]


@pytest.mark.parametrize("spec", SONGS, ids=lambda spec: f"{spec.bpm:g}bpm-{spec.key_name}")
def test_a_generated_song_gets_its_tempo_beats_and_key(spec: SongSpec) -> None:
    song = render(spec)
    # The worker hands over stereo at its own rate; the analyser mixes down and resamples.
    stereo = np.stack([song.audio, song.audio])

    result = analyse_music(stereo, SAMPLE_RATE)

    assert tempo_verdict(spec.bpm, result.bpm) in {"correct", "octave"}, result.bpm
    assert beat_f_measure(song.beats, np.array(result.beats)) > 0.8
    assert result.key is not None
    assert (
        key_score(spec.tonic, spec.mode, NOTE_NAMES.index(result.key.tonic), result.key.mode) >= 0.3
    )
    assert result.key.name == f"{result.key.tonic} {result.key.mode}"
    assert 0.0 <= result.key.confidence <= 1.0
    # Every downbeat is a beat, one in four.
    assert set(result.downbeats) <= set(result.beats)
    assert len(result.beats) // 4 <= len(result.downbeats) <= len(result.beats) // 4 + 1
    assert all(round(t, 3) == t for t in result.beats)


def test_the_right_downbeats_and_exact_tempo_when_the_song_is_plain() -> None:
    spec = SongSpec(bpm=120.0, tonic=0, mode="major", bars=8, seed=4)
    song = render(spec)
    result = analyse_music(song.audio, SAMPLE_RATE)
    assert result.bpm == pytest.approx(120.0, rel=0.01)
    assert beat_f_measure(song.downbeats, np.array(result.downbeats)) > 0.8
    assert result.key is not None and result.key.name == "C major"


def test_silence_and_a_short_click_give_no_tempo_and_no_key() -> None:
    silent = analyse_music(np.zeros((2, 44100 * 10), dtype=np.float32), 44100)
    assert (silent.bpm, silent.beats, silent.downbeats, silent.key) == (None, (), (), None)
    short = analyse_music(np.ones(4410, dtype=np.float32), 44100)
    assert (short.bpm, short.beats) == (None, ())


def test_key_profiles_find_every_key_from_its_scale() -> None:
    """A pitch-class distribution that is exactly a key's profile is that key, all 24."""
    from stemdeck.worker.music.key import PROFILES

    for mode_index, mode in enumerate(("major", "minor")):
        profile = np.asarray(PROFILES["temperley"][mode_index])
        for tonic in range(12):
            key = estimate_key(np.roll(profile, tonic))
            assert key is not None and (key.tonic, key.mode) == (NOTE_NAMES[tonic], mode)
            assert key.confidence > 0.5
    assert estimate_key(np.ones(12)) is None
