"""Rebuilding a mix from its stems and exported curves, the way a host does when the user unmutes the object
tracks: each mono stem under its gain (dB) and pan curves and a pan law, plus the diffuse stem as it is.

The engine's own mix is this sum before the safety limiter (spatial/mix.py: render_parts), so the two agree
except where the limiter acted, where curve simplification strays (docs: PAN_MAX_ERROR, GAIN_DB_MAX_ERROR) and,
with ITD on, in the inter-channel delays. `window_levels_db` and `window_ild_db` are the measures the tests and
docs compare them with.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import SAMPLE_RATE_HZ
from ..errors import InvalidParameter
from .automation import Curve
from .dsp import pan_gains

LEVEL_WINDOW_S = 0.1


def rebuild_mix(stems: Sequence[np.ndarray], pans: Sequence[Curve], gains_db: Sequence[Curve], n_samples: int, *,
                pan_law: str = "constant_power", diffuse: np.ndarray | None = None) -> np.ndarray:
    """Σ stem_k(t) · 10^(gain_k(t)/20) · pan_law(pan_k(t)) (+ diffuse): (2, n_samples) float32, curves on the
    stems' clock (seconds from their first sample), interpolated linearly and held beyond their ends."""
    if not (len(stems) == len(pans) == len(gains_db)):
        raise InvalidParameter(f"rebuild needs one pan and one gain curve per stem ({len(stems)} stems, "
                               f"{len(pans)} pan and {len(gains_db)} gain curves)")
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    out = np.zeros((2, n_samples), dtype=np.float64)
    for stem, pan, gain in zip(stems, pans, gains_db):
        x = np.zeros(n_samples)
        s = np.asarray(stem, dtype=np.float64).reshape(-1)[:n_samples]
        x[: s.size] = s
        left, right = pan_gains(pan.value_at(t), pan_law)
        level = 10.0 ** (np.asarray(gain.value_at(t)) / 20.0)
        out[0] += x * level * left
        out[1] += x * level * right
    if diffuse is not None:
        d = np.asarray(diffuse, dtype=np.float64)
        if d.ndim != 2 or d.shape[0] != 2:
            raise InvalidParameter(f"the diffuse stem has shape {d.shape}; expected (2, n)")
        m = min(n_samples, d.shape[1])
        out[:, :m] += d[:, :m]
    return out.astype(np.float32)


def _window_energy(stereo: np.ndarray, window_s: float) -> np.ndarray:
    x = np.asarray(stereo, dtype=np.float64)
    w = max(1, int(round(window_s * SAMPLE_RATE_HZ)))
    k = x.shape[1] // w
    return np.mean(x[:, : k * w].reshape(2, k, w) ** 2, axis=2)  # (2, windows)


def window_levels_db(stereo: np.ndarray, window_s: float = LEVEL_WINDOW_S) -> np.ndarray:
    """Level of each window (both channels' energy), dB re full scale; −inf for silent windows."""
    e = _window_energy(stereo, window_s).sum(axis=0)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(e)


def window_ild_db(stereo: np.ndarray, window_s: float = LEVEL_WINDOW_S) -> np.ndarray:
    """Right-minus-left level of each window in dB (NaN where a channel is silent)."""
    e = _window_energy(stereo, window_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((e[0] > 0) & (e[1] > 0), 10.0 * np.log10(e[1] / np.where(e[0] > 0, e[0], 1.0)), np.nan)
