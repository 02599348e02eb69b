"""Pure DSP for placing a mono sound in a stereo field. Arrays are float32, time last; 48 kHz throughout.

Signal flow for one object (every parameter is an audio-rate curve from its trajectory):

    mono ──► [Doppler delay] ──► air absorption (band gains, zero phase) ──┬─► gain(distance) ─► pan law ─► [ITD] ─► dry L/R
                                                                           └─► reverberant gain ───────────────────► wet send (mono)

The wet sends of all objects share one convolution with a stereo impulse response (see `diffuse`).
The dry path has no latency: an impulse at sample n of the source lands at sample n of the output.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal
import soxr

from . import SAMPLE_RATE_HZ
from .config import SpatialSettings
from .errors import InvalidAudio, InvalidParameter
from .trajectory import Trajectory

# Air absorption works on these bands (edges in Hz); each band takes the ISO 9613-1 attenuation at its
# geometric centre. Below 1 kHz absorption is under 0.5 dB even at 100 m, so one band covers it.
AIR_BAND_EDGES_HZ = (1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
_AIR_TRANSITION_OCT = 0.5  # width of the raised-cosine crossover between neighbouring bands
_FFT_GUARD = 4096  # zero padding that holds the band filters' ringing instead of wrapping it around


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


def air_band_centres_hz() -> np.ndarray:
    """Geometric centres of the air-absorption bands (the lowest band, 63 Hz–1 kHz, is taken at 250 Hz)."""
    edges = np.array(AIR_BAND_EDGES_HZ)
    upper = np.append(edges[1:], SAMPLE_RATE_HZ / 2.0)
    return np.concatenate([[250.0], np.sqrt(edges * upper)])


def air_band_alpha_db_per_m(settings: SpatialSettings) -> np.ndarray:
    return air_absorption_db_per_m(
        air_band_centres_hz(),
        temperature_c=settings.temperature_c,
        relative_humidity_pct=settings.relative_humidity_pct,
        pressure_kpa=settings.pressure_kpa,
    )


def apply_air_absorption(x: np.ndarray, distance_m: np.ndarray, alpha_db_per_m: np.ndarray) -> np.ndarray:
    """Distance-dependent low-pass: band k is attenuated by alpha_k · distance dB, sample by sample.

    The bands come from complementary zero-phase FFT masks (they sum exactly to the input), so at distance 0
    the output equals the input and the filter adds no delay. `distance_m` is a curve at audio rate.
    """
    n = x.shape[-1]
    if n == 0:
        return x.astype(np.float32, copy=True)
    band_gain = [np.power(10.0, (-alpha / 20.0) * distance_m).astype(np.float32) for alpha in alpha_db_per_m]
    if all(float(g.min()) > 0.9988 for g in band_gain):  # < 0.01 dB anywhere: nothing audible to do
        return x.astype(np.float32, copy=True)
    size = scipy.fft.next_fast_len(n + _FFT_GUARD, real=True)
    spectrum = scipy.fft.rfft(x, size)
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE_HZ)
    out = x * band_gain[0]
    # Σ_k g_k·band_k = g_0·x + Σ_{k≥1} (g_k − g_{k−1})·highpass_k, where highpass_k is everything above edge k.
    for k, edge in enumerate(AIR_BAND_EDGES_HZ, start=1):
        step = band_gain[k] - band_gain[k - 1]
        if float(np.abs(step).max()) < 1e-6:
            continue
        highpass = scipy.fft.irfft(spectrum * _highpass_mask(freqs, edge), size)[:n]
        out += step * highpass.astype(np.float32)
    return out.astype(np.float32, copy=False)


def _highpass_mask(freqs: np.ndarray, edge_hz: float) -> np.ndarray:
    """0 below, 1 above edge_hz, with a raised-cosine transition on a log-frequency axis (zero phase)."""
    with np.errstate(divide="ignore"):
        octaves = np.log2(np.maximum(freqs, 1e-9) / edge_hz) / _AIR_TRANSITION_OCT + 0.5
    return (0.5 - 0.5 * np.cos(np.pi * np.clip(octaves, 0.0, 1.0))).astype(np.float32)


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
    if path is None:
        path = _pyo_hall_ir_path()
    if path is None:
        ir = generated_impulse_response()
    else:
        from .audio import read_audio  # local: audio imports this module's siblings only

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


def convolve_send(send: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Mono send (n,) convolved with a stereo IR (2, m); returns (2, n): the tail past n is cut."""
    n = send.shape[-1]
    size = scipy.fft.next_fast_len(n + ir.shape[-1] - 1, real=True)
    spectrum = scipy.fft.rfft(send, size)
    return scipy.fft.irfft(spectrum * scipy.fft.rfft(ir, size, axis=-1), size, axis=-1)[:, :n].astype(np.float32)


# ---------------------------------------------------------------------------------------- automation
def automation_curve(times_s: np.ndarray, values: np.ndarray, n_samples: int, smoothing_ms: float) -> np.ndarray:
    """Breakpoints to an audio-rate curve: linear interpolation, held at the ends, then centred box smoothing.

    The smoothing bounds the per-sample step of any curve to (max − min) / L with L = smoothing_ms·48 samples,
    so a jump in the automation cannot click; being centred, it adds no delay.
    """
    sample_times = np.arange(n_samples, dtype=np.float64) / SAMPLE_RATE_HZ
    curve = np.interp(sample_times, times_s, values)
    return smooth(curve, int(round(smoothing_ms * SAMPLE_RATE_HZ / 1000.0)))


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


def spatialize_object(source: np.ndarray, trajectory: Trajectory, settings: SpatialSettings, n_samples: int | None = None) -> ObjectRender:
    """Place a mono 48 kHz source along a trajectory. The source is cut or zero-padded to n_samples."""
    x = check_mono(source)
    n = x.size if n_samples is None else int(n_samples)
    if n < 0:
        raise InvalidParameter(f"n_samples={n} must not be negative")
    x = np.pad(x, (0, max(0, n - x.size)))[:n]
    # Gains are computed from the interpolated distance and then smoothed, so their per-sample step is bounded
    # (smoothing the distance alone would let 1/r steepen a jump near the reference distance).
    smoothing = int(round(settings.smoothing_ms * SAMPLE_RATE_HZ / 1000.0))
    raw_distance = automation_curve(trajectory.times_s, trajectory.distance_m, n, 0.0)
    distance = smooth(raw_distance, smoothing)
    pan = automation_curve(trajectory.times_s, trajectory.pan, n, settings.smoothing_ms)
    level_raw = automation_curve(trajectory.times_s, 10.0 ** (trajectory.gain_db / 20.0), n, 0.0)
    level = smooth(level_raw, smoothing)
    direct_raw = level_raw * distance_gain(raw_distance, settings.reference_distance_m, settings.max_distance_m)
    direct = smooth(direct_raw, smoothing).astype(np.float32)

    if settings.doppler:
        # Propagation delay relative to the nearest point, so the closest moment keeps its timing.
        delay = (distance - distance.min()) / settings.speed_of_sound_m_s * SAMPLE_RATE_HZ
        x = fractional_delay(x, delay)
    if settings.air_absorption:
        x = apply_air_absorption(x, distance, air_band_alpha_db_per_m(settings))

    left_gain, right_gain = pan_gains(pan, settings.pan_law)
    dry_mono = x * direct
    left = dry_mono * left_gain.astype(np.float32)
    right = dry_mono * right_gain.astype(np.float32)
    if settings.itd:
        # The far ear hears the sound later; the near ear stays sample-aligned.
        itd_samples = settings.max_itd_ms / 1000.0 * SAMPLE_RATE_HZ * pan
        left = fractional_delay(left, np.maximum(itd_samples, 0.0))
        right = fractional_delay(right, np.maximum(-itd_samples, 0.0))

    if settings.diffuse:
        wet_send = x * (level * reverberant_gain(settings)).astype(np.float32)
    else:
        wet_send = np.zeros(n, dtype=np.float32)
    return ObjectRender(dry=np.stack([left, right]).astype(np.float32), wet_send=wet_send.astype(np.float32))


def spatialize(source: np.ndarray, trajectory: Trajectory, settings: SpatialSettings, n_samples: int | None = None) -> np.ndarray:
    """One object to stereo (2, n) float32, diffuse field included, without a limiter."""
    obj = spatialize_object(source, trajectory, settings, n_samples)
    return add_diffuse(obj.dry, obj.wet_send, settings)


def add_diffuse(dry: np.ndarray, wet_send: np.ndarray, settings: SpatialSettings) -> np.ndarray:
    if not settings.diffuse or not np.any(wet_send):
        return dry
    return (dry + convolve_send(wet_send, load_impulse_response(settings.impulse_response_path))).astype(np.float32)


# ------------------------------------------------------------------------------------------ helpers
def resample(x: np.ndarray, rate_hz: int) -> np.ndarray:
    """Resample (channels, n) or (n,) to 48 kHz with soxr (VHQ); length is round(n · 48000 / rate)."""
    if rate_hz <= 0:
        raise InvalidAudio(f"sample rate {rate_hz} Hz is not positive")
    x = np.asarray(x, dtype=np.float32)
    if rate_hz == SAMPLE_RATE_HZ:
        return x
    target = int(round(x.shape[-1] * SAMPLE_RATE_HZ / rate_hz))
    # soxr wants (frames, channels)
    y = soxr.resample(np.ascontiguousarray(np.atleast_2d(x).T), rate_hz, SAMPLE_RATE_HZ, quality="VHQ").T
    y = y[:, :target] if y.shape[1] >= target else np.pad(y, ((0, 0), (0, target - y.shape[1])))
    return (y[0] if x.ndim == 1 else y).astype(np.float32)


def check_mono(source: np.ndarray) -> np.ndarray:
    x = np.asarray(source)
    if x.ndim != 1:
        raise InvalidAudio(f"a mono source has shape (n,), got {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise InvalidAudio(f"audio samples must be numbers, got {x.dtype}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InvalidAudio(f"source has {bad.size} NaN/inf samples (first at sample {bad[0]})")
    return x.astype(np.float32, copy=False)
