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
import scipy.signal
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


def _limited(y: np.ndarray, ceiling_dbtp: float, peak_dbtp: float | None = None) -> tuple[np.ndarray, bool]:
    """(y limited, whether the limiter acted): at the ceiling as a sample ceiling, lowered by the inter-sample
    overshoot that is left, until the true peak is under. Each try limits the input afresh, so the result sits
    just under the ceiling: lowering the sample ceiling by the whole excess over it (the input's) would take a
    peak 10 dB over to 10 dB under. peak_dbtp: y's true peak, when known."""
    if (true_peak_level(y) if peak_dbtp is None else peak_dbtp) <= ceiling_dbtp:
        return y, False
    sample_ceiling_db, limited = ceiling_dbtp, y
    for _ in range(8):
        limited = limit(y, sample_ceiling_db)
        over_db = true_peak_level(limited) - ceiling_dbtp
        if over_db <= 0.0:
            break
        sample_ceiling_db -= over_db + 0.02
    return limited, True


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
    return normalize_with_gain(stereo, target_lufs, true_peak_dbtp)[0]


def normalize_with_gain(stereo: np.ndarray, target_lufs: float = DEFAULT_TARGET_LUFS,
                        true_peak_dbtp: float = DEFAULT_TRUE_PEAK_DBTP) -> tuple[np.ndarray, float]:
    """`normalize`, and the gain in dB it applied before limiting (what the mix's stems must carry to add up
    to it; the limiter's own reductions are on top). 0 dB for silence."""
    check_targets(target_lufs, true_peak_dbtp)
    x = _as_channels(stereo)
    if not math.isfinite(integrated_lufs(x)):
        return np.asarray(stereo, dtype=np.float32), 0.0
    y = x.astype(np.float32)
    total_db = 0.0
    for _ in range(MAX_ROUNDS):  # gain to target, limit to the ceiling; limiting costs loudness, so repeat
        step_db = target_lufs - integrated_lufs(y)
        total_db += step_db
        y = (y * 10.0 ** (step_db / 20.0)).astype(np.float32)
        y = _limited(y, true_peak_dbtp)[0]
        if abs(integrated_lufs(y) - target_lufs) <= LOUDNESS_TOLERANCE_LU:
            break
    return y.reshape(np.shape(stereo)).astype(np.float32), total_db


def limit_true_peak(stereo: np.ndarray, true_peak_dbtp: float = DEFAULT_TRUE_PEAK_DBTP) -> np.ndarray:
    """The mix with its true peak at or under the ceiling (the look-ahead limiter; unchanged when already under)."""
    return true_peak_limited(stereo, true_peak_dbtp)[0]


def true_peak_limited(stereo: np.ndarray, true_peak_dbtp: float = DEFAULT_TRUE_PEAK_DBTP, *,
                      peak_dbtp: float | None = None) -> tuple[np.ndarray, bool]:
    """`limit_true_peak`, and whether the limiter changed anything (False: the mix was already under).
    peak_dbtp: the mix's true peak when the caller knows it (it is not measured again)."""
    y, limited = _limited(_as_channels(stereo).astype(np.float32), true_peak_dbtp, peak_dbtp)
    return y.reshape(np.shape(stereo)), limited


# --------------------------------------------------------------------------------- loudness of a whole edit
GATE_STEP_S = 0.1  # 75 % overlap of the 400 ms gating blocks
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0


def loudness_blocks(audio: np.ndarray, rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The mean-square energy (summed over channels, K-weighted) of each 400 ms gating block of one clip, with
    75 % overlap (BS.1770-4 §2). Blocks of several clips gated together (`gated_lufs`) are the loudness of the
    clips played one after the other, without keeping any of their audio. A clip shorter than one block is one
    block as long as the clip (as `integrated_lufs` measures it)."""
    if rate_hz != SAMPLE_RATE_HZ:
        raise InvalidParameter(f"rate_hz={rate_hz}: edit loudness is measured at {SAMPLE_RATE_HZ} Hz")
    x = _as_channels(audio)
    y = x
    for stage in pyloudnorm.Meter(rate_hz)._filters.values():  # pyloudnorm's K-weighting, as integrated_lufs
        y = stage.passband_gain * scipy.signal.lfilter(stage.b, stage.a, y, axis=-1)
    n = y.shape[1]
    block = min(int(round(GATING_BLOCK_S * rate_hz)), n)
    step = max(1, int(round(GATE_STEP_S * rate_hz))) if block == int(round(GATING_BLOCK_S * rate_hz)) else block
    cumulative = np.concatenate([np.zeros(1), np.cumsum(np.sum(y * y, axis=0))])
    starts = np.arange(0, n - block + 1, step)
    return (cumulative[starts + block] - cumulative[starts]) / block


def gated_lufs(blocks: np.ndarray) -> float:
    """Integrated loudness (LUFS) from gating-block energies (`loudness_blocks` of one or many clips): the
    absolute gate at −70 LUFS, then the relative gate 10 LU under the loudness of the blocks that passed it."""
    z = np.asarray(blocks, dtype=np.float64).reshape(-1)
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10.0 * np.log10(z)
    above = z[levels > ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return -math.inf
    relative = -0.691 + 10.0 * math.log10(float(np.mean(above))) + RELATIVE_GATE_LU
    kept = z[levels > max(relative, ABSOLUTE_GATE_LUFS)]
    return -0.691 + 10.0 * math.log10(float(np.mean(kept))) if kept.size else -math.inf

