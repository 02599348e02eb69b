"""Loudness normalisation of a finished mix: ITU-R BS.1770-4 / EBU R128 integrated loudness through pyloudnorm,
under a true-peak ceiling measured by 4× oversampling (BS.1770 Annex 2).

`normalize` gains the mix to the target, then, if the true peak passes the ceiling, runs the engine's look-ahead
limiter (`render.limit`) at a sample ceiling lowered until the oversampled peak is under the true-peak ceiling.
Limiting lowers loudness, so gain and limiting repeat (at most 6 rounds) until the loudness is within 0.1 LU of
the target; the true-peak ceiling always wins over the loudness target.
"""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import soxr

from .. import SAMPLE_RATE_HZ
from ..errors import InvalidAudio, InvalidParameter
from .mix import limit

DEFAULT_TARGET_LUFS = -23.0  # EBU R128 broadcast programme level
DEFAULT_TRUE_PEAK_DBTP = -1.0
TRUE_PEAK_OVERSAMPLING = 4
GATING_BLOCK_S = 0.4
MAX_ROUNDS = 6
LOUDNESS_TOLERANCE_LU = 0.1


def _as_channels(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] == 0:
        raise InvalidAudio(f"audio for loudness has shape (channels, n) with n > 0, got {np.shape(audio)}")
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        raise InvalidAudio(f"audio for loudness has {len(bad)} NaN/inf samples (first: channel {bad[0][0]}, sample {bad[0][1]})")
    return x


def integrated_lufs(audio: np.ndarray, rate_hz: int = SAMPLE_RATE_HZ) -> float:
    """Integrated loudness (LUFS, gated) of (channels, n) or (n,) audio; −inf for silence.

    Clips shorter than one 400 ms gating block are measured with a single block as long as the clip.
    """
    x = _as_channels(audio)
    block_s = min(GATING_BLOCK_S, x.shape[1] / rate_hz)
    meter = pyloudnorm.Meter(rate_hz, block_size=block_s)
    return float(meter.integrated_loudness(x.T))


def _limit_true_peak(y: np.ndarray, ceiling_dbtp: float) -> np.ndarray:
    """Limit at a sample ceiling lowered by the measured inter-sample overshoot until the true peak is under."""
    sample_ceiling_db = ceiling_dbtp
    for _ in range(8):
        over_db = true_peak_level(y) - ceiling_dbtp
        if over_db <= 0.0:
            break
        sample_ceiling_db -= over_db + 0.02
        y = limit(y, sample_ceiling_db)
    return y


def true_peak_level(audio: np.ndarray, rate_hz: int = SAMPLE_RATE_HZ) -> float:
    """Peak of the 4× oversampled signal in dBTP (dB re full scale); −inf for silence."""
    x = _as_channels(audio)
    up = soxr.resample(np.ascontiguousarray(x.T), rate_hz, rate_hz * TRUE_PEAK_OVERSAMPLING, quality="VHQ")
    peak = max(float(np.max(np.abs(up))), float(np.max(np.abs(x))))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def check_targets(target_lufs: float, true_peak_dbtp: float) -> None:
    if not (math.isfinite(target_lufs) and -70.0 <= target_lufs <= 0.0):
        raise InvalidParameter(f"target_lufs={target_lufs!r} is outside [-70, 0] LUFS")
    if not (math.isfinite(true_peak_dbtp) and -30.0 <= true_peak_dbtp <= 0.0):
        raise InvalidParameter(f"true_peak_dbtp={true_peak_dbtp!r} is outside [-30, 0] dBTP")


def normalize(
    stereo: np.ndarray, target_lufs: float = DEFAULT_TARGET_LUFS, true_peak_dbtp: float = DEFAULT_TRUE_PEAK_DBTP
) -> np.ndarray:
    """The mix at `target_lufs` integrated loudness with its true peak at or under `true_peak_dbtp`.

    Silence is returned unchanged (it has no loudness to move). Shape and dtype float32 are kept.
    """
    check_targets(target_lufs, true_peak_dbtp)
    x = _as_channels(stereo)
    if not math.isfinite(integrated_lufs(x)):
        return np.asarray(stereo, dtype=np.float32)
    y = x.astype(np.float32)
    for _ in range(MAX_ROUNDS):  # gain to target, limit to the ceiling; limiting costs loudness, so repeat
        y = (y * 10.0 ** ((target_lufs - integrated_lufs(y)) / 20.0)).astype(np.float32)
        y = _limit_true_peak(y, true_peak_dbtp)
        if abs(integrated_lufs(y) - target_lufs) <= LOUDNESS_TOLERANCE_LU:
            break
    return y.reshape(np.shape(stereo)).astype(np.float32)

