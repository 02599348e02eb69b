"""Pure DSP for placing a mono sound in a stereo field. Arrays are float32, time last; 48 kHz throughout.

Signal flow for one object (every parameter is a curve from its trajectory, computed at a control rate and
interpolated to audio rate):

    mono ──► [Doppler delay] ──► air absorption (STFT gains, zero phase) ──┬─► gain(distance) ─► pan law ─► [ITD] ─► dry L/R
                                                                           └─► reverberant gain ───────────────────► wet send (mono)

The wet sends of all objects share one convolution with a stereo impulse response (see `add_diffuse`).
The dry path has no latency: an impulse at sample n of the source lands at sample n of the output.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal
import soxr

from .. import SAMPLE_RATE_HZ
from ..audio import check_mono, read_audio, resample
from ..config import SpatialSettings
from ..errors import InvalidAudio, InvalidParameter
from ..files import unconfined
from .trajectory import Trajectory

# Air absorption runs on a short-time Fourier transform: frames of AIR_FRAME samples, hop AIR_FRAME/2, square-root
# Hann windows on analysis and synthesis (they overlap-add to exactly 1), a zero-phase gain per bin per frame.
AIR_FRAME = 1024
# Automation is computed at a control rate of one point every CONTROL_STEP samples (1.5 kHz), then interpolated
# linearly to audio rate: the curves are smooth far below that rate, and it keeps the per-sample work small.
CONTROL_STEP = 32
# The diffuse field is convolved at half rate: the hall IR holds under 1 % of its energy above 11 kHz (the
# resampler's passband edge), and after air absorption even less reaches the send, so this halves the work of
# the most expensive stage for a difference no one hears (tests/spatial: wet level within 0.2 dB of 48 kHz).
DIFFUSE_RATE_HZ = 24_000


# ----------------------------------------------------------------------------------------------- panning
def pan_gains(pan: np.ndarray, law: str = "constant_power") -> tuple[np.ndarray, np.ndarray]:
    """Left and right gains for pan in [-1, 1] under a pan law.

    constant_power: L = cos θ, R = sin θ with θ = (pan + 1)·π/4 (centre −3.01 dB, L² + R² = 1).
    linear: L = (1 − pan)/2, R = (1 + pan)/2 (centre −6.02 dB, L + R = 1).
    -4.5dB: the geometric mean of the two (centre −4.52 dB).
    """
    pan = np.clip(np.asarray(pan, dtype=np.float64), -1.0, 1.0)
    theta = (pan + 1.0) * (math.pi / 4.0)
    if law == "constant_power":
        return np.cos(theta), np.sin(theta)
    left_lin, right_lin = (1.0 - pan) / 2.0, (1.0 + pan) / 2.0
    if law == "linear":
        return left_lin, right_lin
    if law == "-4.5dB":
        return np.sqrt(np.cos(theta) * left_lin), np.sqrt(np.sin(theta) * right_lin)
    raise InvalidParameter(f"pan_law={law!r} is not allowed; choose constant_power, -4.5dB or linear")


# ---------------------------------------------------------------------------------------------- distance
def distance_gain(distance_m: np.ndarray, reference_distance_m: float, max_distance_m: float) -> np.ndarray:
    """Inverse-distance (free-field) amplitude gain: −6.02 dB per doubling beyond the reference distance.

    Clamped near (no boost closer than the reference) and far (no further loss beyond max_distance_m).
    """
    d = np.clip(np.asarray(distance_m, dtype=np.float64), reference_distance_m, max_distance_m)
    return reference_distance_m / d


def air_absorption_db_per_m(
    frequency_hz: np.ndarray, *, temperature_c: float = 20.0, relative_humidity_pct: float = 50.0, pressure_kpa: float = 101.325
) -> np.ndarray:
    """Pure-tone atmospheric absorption coefficient α in dB per metre, ISO 9613-1:1993 equations (3)–(5), (B.1)."""
    f = np.asarray(frequency_hz, dtype=np.float64)
    t_kelvin = temperature_c + 273.15
    t_ref, t_triple, p_ref = 293.15, 273.16, 101.325
    p_rel = pressure_kpa / p_ref
    c_sat = -6.8346 * (t_triple / t_kelvin) ** 1.261 + 4.6151
    h = relative_humidity_pct * 10.0**c_sat / p_rel  # molar concentration of water vapour, %
    fr_o = p_rel * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    fr_n = p_rel * (t_kelvin / t_ref) ** -0.5 * (9.0 + 280.0 * h * math.exp(-4.170 * ((t_kelvin / t_ref) ** (-1.0 / 3.0) - 1.0)))
    return (
        8.686
        * f**2
        * (
            1.84e-11 / p_rel * (t_kelvin / t_ref) ** 0.5
            + (t_kelvin / t_ref) ** -2.5
            * (
                0.01275 * math.exp(-2239.1 / t_kelvin) / (fr_o + f**2 / fr_o)
                + 0.1068 * math.exp(-3352.0 / t_kelvin) / (fr_n + f**2 / fr_n)
            )
        )
    )


def apply_air_absorption(x: np.ndarray, distance_m: np.ndarray | float, settings: SpatialSettings, *, step: int = 1) -> np.ndarray:
    """Distance-dependent low-pass: each frequency f is attenuated by α(f)·distance dB (ISO 9613-1), frame by frame.

    `distance_m` is a scalar or a curve with one value every `step` samples (1: audio rate; CONTROL_STEP: control
    rate). The gains are real (zero phase), so the filter adds no delay; at distance 0 the output is the input.
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.size
    hop = AIR_FRAME // 2
    frames_count = -(-(n + hop) // hop)
    curve = np.atleast_1d(np.asarray(distance_m, dtype=np.float64))
    frame_distance = np.interp(np.arange(frames_count) * hop, np.arange(curve.size) * step, curve)
    alpha = _alpha_per_bin(settings.temperature_c, settings.relative_humidity_pct, settings.pressure_kpa)
    if n == 0 or float(alpha[-1]) * float(frame_distance.max()) < 0.01:  # < 0.01 dB anywhere: nothing to do
        return x.copy()
    window = _sqrt_hann(AIR_FRAME)
    padded = np.zeros((frames_count + 1) * hop, dtype=np.float32)
    padded[hop : hop + n] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, AIR_FRAME)[::hop][:frames_count] * window
    gains = np.exp(np.outer(frame_distance, -math.log(10.0) / 20.0 * alpha)).astype(np.float32)
    filtered = scipy.fft.irfft(scipy.fft.rfft(frames, axis=-1) * gains, AIR_FRAME, axis=-1) * window
    out = np.zeros((frames_count + 1, hop), dtype=np.float32)
    out[:-1] += filtered[:, :hop]
    out[1:] += filtered[:, hop:]
    return out.reshape(-1)[hop : hop + n]


@functools.lru_cache(maxsize=8)
def _alpha_per_bin(temperature_c: float, relative_humidity_pct: float, pressure_kpa: float) -> np.ndarray:
    freqs = np.fft.rfftfreq(AIR_FRAME, 1.0 / SAMPLE_RATE_HZ)
    alpha = air_absorption_db_per_m(freqs, temperature_c=temperature_c, relative_humidity_pct=relative_humidity_pct, pressure_kpa=pressure_kpa)
    alpha.setflags(write=False)
    return alpha


@functools.lru_cache(maxsize=2)
def _sqrt_hann(size: int) -> np.ndarray:
    window = np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)).astype(np.float32)
    window.setflags(write=False)
    return window


# ------------------------------------------------------------------------------------- diffuse field
def reverberant_gain(settings: SpatialSettings) -> float:
    """Amplitude of the reverberant (diffuse) field, relative to the direct sound at the reference distance.

    The diffuse level does not depend on distance; the direct sound falls as 1/r, so the two are equal at the
    critical distance and the wet share, g_rev² / (g_rev² + g_dir²), rises with distance.
    """
    return settings.reference_distance_m / settings.critical_distance_m


def wet_share(distance_m: np.ndarray, settings: SpatialSettings) -> np.ndarray:
    """Fraction of energy in the diffuse field at a distance (0 at the source, 0.5 at the critical distance)."""
    direct = distance_gain(distance_m, settings.reference_distance_m, settings.max_distance_m)
    rev = reverberant_gain(settings)
    return rev**2 / (rev**2 + direct**2)


@functools.lru_cache(maxsize=4)
def load_impulse_response(path: str | None) -> np.ndarray:
    """A stereo impulse response at 48 kHz scaled to unit total energy (half per channel), so a wet gain g
    puts g² of the send's energy into the diffuse field, summed over both channels like the dry path.

    path None: pyo's medium hall IR when pyo is installed, otherwise `generated_impulse_response()`.
    The result is read-only and cached.
    """
    own = path is None  # the engine's own file (pyo's), not one a job named: read it even when confined
    if path is None:
        path = _pyo_hall_ir_path()
    if path is None:
        ir = generated_impulse_response()
    else:
        with unconfined() if own else contextlib.nullcontext():
            data, rate = read_audio(path)
        if data.shape[0] == 1:
            data = np.vstack([data, data])
        ir = resample(data[:2], rate)
    energy = np.sqrt(np.sum(ir.astype(np.float64) ** 2, axis=1, keepdims=True))
    if np.any(energy == 0):
        raise InvalidAudio(f"impulse response {path} is silent")
    ir = (ir / (energy * math.sqrt(2.0))).astype(np.float32)
    ir.setflags(write=False)
    return ir


def generated_impulse_response(rt60_s: float = 1.2, predelay_ms: float = 12.0, seed: int = 7) -> np.ndarray:
    """Decorrelated exponentially decaying noise, darker as it decays: a plain, deterministic hall."""
    rng = np.random.default_rng(seed)
    n = int(rt60_s * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    envelope = 10.0 ** (-3.0 * t / rt60_s)  # −60 dB at rt60
    noise = rng.standard_normal((2, n)) * envelope
    sos = scipy.signal.butter(2, 6000.0, "low", fs=SAMPLE_RATE_HZ, output="sos")
    noise = scipy.signal.sosfilt(sos, noise, axis=-1)
    pre = np.zeros((2, int(predelay_ms * SAMPLE_RATE_HZ / 1000.0)))
    return np.concatenate([pre, noise], axis=1).astype(np.float32)


def _pyo_hall_ir_path() -> str | None:
    """pyo.SNDS_PATH + "/IRMediumHallStereo.wav", found without importing pyo (its import prints a banner)."""
    spec = importlib.util.find_spec("pyo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "lib" / "snds" / "IRMediumHallStereo.wav"
    return str(path) if path.is_file() else None


def convolve_send_half_rate(send: np.ndarray, ir_half_rate: np.ndarray) -> np.ndarray:
    """Mono send (n,) through the stereo diffuse IR, computed at DIFFUSE_RATE_HZ: the send is resampled down,
    convolved with the IR at that rate (see `diffuse_ir`), resampled back to 48 kHz and cut to (2, n)."""
    n = send.shape[-1]
    if n == 0:
        return np.zeros((2, 0), dtype=np.float32)
    low = soxr.resample(send.astype(np.float32, copy=False), SAMPLE_RATE_HZ, DIFFUSE_RATE_HZ, quality="HQ")
    wet = scipy.signal.oaconvolve(low[None, :], ir_half_rate, axes=-1)[:, : low.size]
    up = soxr.resample(np.ascontiguousarray(wet.T, dtype=np.float32), DIFFUSE_RATE_HZ, SAMPLE_RATE_HZ, quality="HQ").T
    out = np.zeros((2, n), dtype=np.float32)
    out[:, : min(n, up.shape[1])] = up[:, :n]
    return out


@functools.lru_cache(maxsize=4)
def diffuse_ir(path: str | None) -> np.ndarray:
    """The diffuse field's IR at DIFFUSE_RATE_HZ. Its samples are scaled by 48000/DIFFUSE_RATE_HZ, so that a
    convolution at the lower rate has the same gain as the 48 kHz one (a sum over half as many samples)."""
    ir = load_impulse_response(path)
    low = soxr.resample(np.ascontiguousarray(ir.T), SAMPLE_RATE_HZ, DIFFUSE_RATE_HZ, quality="HQ").T
    low = (low * (SAMPLE_RATE_HZ / DIFFUSE_RATE_HZ)).astype(np.float32)
    low.setflags(write=False)
    return low


# ---------------------------------------------------------------------------------------- automation
def control_curve(times_s: np.ndarray, values: np.ndarray, n_samples: int) -> np.ndarray:
    """Breakpoints sampled at the control rate (every CONTROL_STEP samples, covering the last sample)."""
    points = n_samples // CONTROL_STEP + 2
    return np.interp(np.arange(points) * (CONTROL_STEP / SAMPLE_RATE_HZ), times_s, values)


def to_audio_rate(control: np.ndarray, n_samples: int) -> np.ndarray:
    """Linear interpolation of a control-rate curve to n_samples (float32). Its per-sample step is at most the
    largest difference between neighbouring control points divided by CONTROL_STEP."""
    c = control.astype(np.float32)
    segments = -(-n_samples // CONTROL_STEP)
    ramp = np.arange(CONTROL_STEP, dtype=np.float32) / CONTROL_STEP
    start, slope = c[:segments, None], (c[1 : segments + 1] - c[:segments])[:, None]
    return (start + slope * ramp).reshape(-1)[:n_samples]


def _smoothing_points(smoothing_ms: float) -> int:
    return int(round(smoothing_ms * SAMPLE_RATE_HZ / 1000.0 / CONTROL_STEP))


def smooth(curve: np.ndarray, length: int) -> np.ndarray:
    """Centred moving average of odd length (edges held), computed with a running sum."""
    if length < 2 or curve.size < 2:
        return curve
    half = length // 2
    padded = np.pad(curve, (half + 1, half), mode="edge")
    sums = np.cumsum(padded)
    return (sums[2 * half + 1 :] - sums[: -2 * half - 1]) / (2 * half + 1)


def fractional_delay(x: np.ndarray, delay_samples: np.ndarray) -> np.ndarray:
    """y[n] = x[n − delay[n]] with linear interpolation (a variable delay line; zeros before the start)."""
    n = x.shape[-1]
    read_at = np.arange(n, dtype=np.float64) - delay_samples
    return np.interp(read_at, np.arange(n, dtype=np.float64), x, left=0.0, right=0.0).astype(np.float32)


# -------------------------------------------------------------------------------------------- render
@dataclass(frozen=True)
class ObjectRender:
    """One object's contribution to the bus: the dry stereo signal and the mono send to the diffuse field."""

    dry: np.ndarray  # (2, n) float32
    wet_send: np.ndarray  # (n,) float32
    # The source as it reaches the gains: after Doppler and air absorption, before level and pan (n,) float32.
    # dry == mono * direct gain * pan law (exactly so without ITD), which is what a host's stem track rebuilds.
    mono: np.ndarray | None = None


def spatialize_object(source: np.ndarray, trajectory: Trajectory, settings: SpatialSettings, n_samples: int | None = None) -> ObjectRender:
    """Place a mono 48 kHz source along a trajectory. The source is cut or zero-padded to n_samples."""
    x = check_mono(source)
    n = x.size if n_samples is None else int(n_samples)
    if n < 0:
        raise InvalidParameter(f"n_samples={n} must not be negative")
    x = np.pad(x, (0, max(0, n - x.size)))[:n]
    # Automation at control rate. Gains come from the interpolated distance and are smoothed afterwards, so
    # their per-sample step stays bounded (smoothing the distance alone would let 1/r steepen a jump near 1 m).
    points = _smoothing_points(settings.smoothing_ms)
    raw_distance = control_curve(trajectory.times_s, trajectory.distance_m, n)
    distance = smooth(raw_distance, points)
    level_raw = control_curve(trajectory.times_s, 10.0 ** (trajectory.gain_db / 20.0), n)
    direct = smooth(level_raw * distance_gain(raw_distance, settings.reference_distance_m, settings.max_distance_m), points)
    pan = smooth(control_curve(trajectory.times_s, trajectory.pan, n), points)
    left_gain, right_gain = pan_gains(pan, settings.pan_law)

    if settings.doppler:
        # Propagation delay relative to the nearest point, so the closest moment keeps its timing.
        delay = (distance - distance.min()) / settings.speed_of_sound_m_s * SAMPLE_RATE_HZ
        x = fractional_delay(x, to_audio_rate(delay, n))
    if settings.air_absorption:
        x = apply_air_absorption(x, distance, settings, step=CONTROL_STEP)

    left = x * to_audio_rate(direct * left_gain, n)
    right = x * to_audio_rate(direct * right_gain, n)
    if settings.itd:
        # The far ear hears the sound later; the near ear stays sample-aligned.
        itd_samples = to_audio_rate(settings.max_itd_ms / 1000.0 * SAMPLE_RATE_HZ * pan, n)
        left = fractional_delay(left, np.maximum(itd_samples, 0.0))
        right = fractional_delay(right, np.maximum(-itd_samples, 0.0))

    if settings.diffuse:
        wet_send = x * to_audio_rate(smooth(level_raw, points) * reverberant_gain(settings), n)
    else:
        wet_send = np.zeros(n, dtype=np.float32)
    return ObjectRender(dry=np.stack([left, right]), wet_send=wet_send.astype(np.float32, copy=False),
                        mono=np.asarray(x, dtype=np.float32))


def spatialize(source: np.ndarray, trajectory: Trajectory, settings: SpatialSettings, n_samples: int | None = None) -> np.ndarray:
    """One object to stereo (2, n) float32, diffuse field included, without a limiter."""
    obj = spatialize_object(source, trajectory, settings, n_samples)
    return add_diffuse(obj.dry, obj.wet_send, settings)


def add_diffuse(dry: np.ndarray, wet_send: np.ndarray, settings: SpatialSettings) -> np.ndarray:
    if not settings.diffuse or not np.any(wet_send):
        return dry
    return (dry + convolve_send_half_rate(wet_send, diffuse_ir(settings.impulse_response_path))).astype(np.float32)
