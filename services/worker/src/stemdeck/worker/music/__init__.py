"""Tempo, beats, downbeats and key of a song (see analyse.py); no queue code here."""

from stemdeck.worker.music.analyse import MusicAnalysis, analyse_music
from stemdeck.worker.music.key import Key

__all__ = ["Key", "MusicAnalysis", "analyse_music"]
