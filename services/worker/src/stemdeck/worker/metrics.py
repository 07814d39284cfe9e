"""Separation quality measures, for tests and benchmarks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def global_sdr(reference: npt.ArrayLike, estimate: npt.ArrayLike) -> float:
    """Signal-to-distortion ratio over the whole signal, in dB: 10·log10(Σs² / Σ(s−ŝ)²).

    Both are trimmed to the shorter length (codecs may pad); a perfect estimate
    gives +inf.
    """
    s = np.asarray(reference, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    n = min(s.shape[0], e.shape[0])
    s, e = s[:n], e[:n]
    error = float(np.sum((s - e) ** 2))
    if error == 0.0:
        return float("inf")
    return float(10 * np.log10(np.sum(s**2) / error))
