"""Object-aware stereo measures: does the sound sit where the picture says the object is?

Two sides, compared window by window (default 100 ms, no overlap):

- Audio: per window the inter-channel level difference (ILD), the Avendano–Jot time–frequency panning index,
  optionally a GCC-PHAT time difference, the level, and the inter-channel correlation. Each position estimate is
  mapped to pan units (−1 left … +1 right) by inverting the constant-power pan law.
- Picture (or ground truth): the expected pan and level of the sounding objects, energy- and salience-weighted.

The scores (position correlation, position MAE in pan units and degrees, direction agreement against the exact
shuffled-window chance level, level–distance agreement) and every formula are written out in docs/metric.md;
tests/evaluation/test_metric.py pins them with values computed by hand on tiny inputs.

Pure functions on numpy arrays; a stereo signal is float (2, n) at any sample rate (windows are in seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.signal

from ..config import SpatialSettings
from ..errors import InvalidAudio, InvalidParameter
from ..spatial.dsp import distance_gain, pan_gains
from ..spatial.trajectory import Trajectory

ESTIMATORS = ("primary", "ild", "index")
_TINY = 1e-20  # energy below which a window or a time–frequency bin carries no information


@dataclass(frozen=True)
class MetricSettings:
    window_s: float = 0.1  # analysis window (and hop): positions are compared at this resolution
    fft_size: int = 1024  # STFT frame for the panning index (Hann, 50 % overlap inside each window)
    silence_db: float = 45.0  # windows quieter than the loudest window by more than this are not scored
    off_centre_pan: float = 0.2  # direction is only judged where the expected |pan| is at least this
    undecided_pan: float = 0.01  # an audio window with |pan| below this has no direction (counts half)
    near_mono_side_db: float = -20.0  # side/mid energy ratio at or below which the audio is "near mono"
    min_level_range_db: float = 3.0  # level–distance agreement needs this much expected level variation
    estimator: str = "primary"  # the audio position scored: "primary" (reverberation-robust), "ild" or "index"
    itd: bool = False  # also estimate a GCC-PHAT time difference per window
    max_itd_ms: float = 1.0  # GCC-PHAT search range (± ms)
    hfov_deg: float = 60.0  # camera field of view: converts pan errors to degrees
    stereo_width: float = 1.0  # pan at the frame edge, as in SpatialSettings

    def __post_init__(self) -> None:
        checks = {
            "window_s": (self.window_s, 1e-4, 60.0, "s"),
            "fft_size": (self.fft_size, 2, 1 << 16, "samples"),
            "silence_db": (self.silence_db, 1.0, 200.0, "dB"),
            "off_centre_pan": (self.off_centre_pan, 0.0, 1.0, ""),
            "undecided_pan": (self.undecided_pan, 0.0, 0.5, ""),
            "near_mono_side_db": (self.near_mono_side_db, -120.0, 0.0, "dB"),
            "min_level_range_db": (self.min_level_range_db, 0.0, 120.0, "dB"),
            "max_itd_ms": (self.max_itd_ms, 0.01, 50.0, "ms"),
            "hfov_deg": (self.hfov_deg, 1.0, 179.0, "degrees"),
            "stereo_width": (self.stereo_width, 0.01, 1.0, ""),
        }
        if self.estimator not in ESTIMATORS:
            raise InvalidParameter(f"estimator={self.estimator!r} is not allowed; choose one of {', '.join(ESTIMATORS)}")
        for name, (value, low, high, unit) in checks.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
                raise InvalidParameter(f"{name}={value!r} is outside [{low}, {high}] {unit}".rstrip())

    @classmethod
    def matching(cls, settings: SpatialSettings, **overrides: Any) -> "MetricSettings":
        """Metric settings with the camera geometry of a render's SpatialSettings."""
        return cls(hfov_deg=settings.hfov_deg, stereo_width=max(settings.stereo_width, 0.01), **overrides)


# ------------------------------------------------------------------------------------- pan-law inversion
def pan_from_ild(ild_db: np.ndarray) -> np.ndarray:
    """Pan that gives this level difference under the constant-power law: (4/π)·atan(10^(ILD/20)) − 1.

    With L = cos θ, R = sin θ, θ = (pan + 1)·π/4, the amplitude ratio R/L = tan θ = 10^(ILD/20).
    """
    return (4.0 / math.pi) * np.arctan(np.power(10.0, np.asarray(ild_db, dtype=np.float64) / 20.0)) - 1.0


def pan_from_panning_index(index: np.ndarray) -> np.ndarray:
    """Avendano–Jot index Γ to pan: sign(Γ)·(2/π)·arccos(1 − |Γ|) (inverse of Γ = sign(p)·(1 − cos(p·π/2)))."""
    g = np.clip(np.asarray(index, dtype=np.float64), -1.0, 1.0)
    return np.sign(g) * (2.0 / math.pi) * np.arccos(1.0 - np.abs(g))


def azimuth_from_pan(pan: np.ndarray, hfov_deg: float, stereo_width: float = 1.0) -> np.ndarray:
    """Inverse of trajectory.pan_from_azimuth inside the frame: az = pan · (hfov/2) / width."""
    return np.asarray(pan, dtype=np.float64) * (hfov_deg / 2.0) / stereo_width


# ------------------------------------------------------------------------------------------ audio side
@dataclass(frozen=True, eq=False)
class AudioAnalysis:
    """Per-window measures of a stereo signal. Times are window centres in seconds."""

    times_s: np.ndarray
    level_db: np.ndarray  # 10·log10(mean(L² + R²)) per window (dBFS-like; −inf for digital silence)
    ild_db: np.ndarray  # 10·log10(E_R / E_L): positive when the right channel is louder
    pan_ild: np.ndarray  # ILD mapped to pan by the constant-power law
    panning_index: np.ndarray  # Avendano–Jot Γ, energy-weighted over the window's time–frequency bins
    pan_index: np.ndarray  # per-bin Γ mapped to pan, energy-weighted
    pan_primary: np.ndarray  # primary-component pan per bin, weighted by primary energy: what the scores use
    correlation: np.ndarray  # inter-channel correlation per window (1: identical shape)
    itd_ms: np.ndarray | None  # GCC-PHAT lag, positive when the left channel lags (source to the right)
    inter_channel_correlation: float  # over the whole signal
    side_to_mid_db: float  # 10·log10(E_side / E_mid), side = (L − R)/2, mid = (L + R)/2
    is_near_mono: bool

    def pan(self, estimator: str) -> np.ndarray:
        return {"primary": self.pan_primary, "ild": self.pan_ild, "index": self.pan_index}[estimator]

    def active(self, silence_db: float) -> np.ndarray:
        """Windows within silence_db of the loudest window (and not digitally silent)."""
        finite = np.isfinite(self.level_db)
        if not finite.any():
            return finite
        return finite & (self.level_db >= np.max(self.level_db[finite]) - silence_db)


def check_stereo(audio: np.ndarray) -> np.ndarray:
    """(2, n) float64 from (2, n) or mono (1, n)/(n,) (duplicated: it then carries no spatial information)."""
    x = np.asarray(audio)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] not in (1, 2):
        raise InvalidAudio(f"the metric needs stereo (2, n) or mono audio, got shape {x.shape}")
    if x.shape[1] == 0:
        raise InvalidAudio("the metric needs at least one sample, got none")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise InvalidAudio("audio for the metric must be finite numbers")
    x = x.astype(np.float64)
    return np.vstack([x, x]) if x.shape[0] == 1 else x


def window_bounds(n_samples: int, rate_hz: float, window_s: float) -> np.ndarray:
    """Sample ranges [start, end) of consecutive windows; the last, partial one is kept if ≥ half a window."""
    length = max(1, int(round(window_s * rate_hz)))
    starts = np.arange(0, n_samples, length)
    ends = np.minimum(starts + length, n_samples)
    keep = (ends - starts) * 2 >= length
    keep[0] = True  # a signal shorter than half a window still gets one window
    return np.stack([starts[keep], ends[keep]], axis=1)


def analyze_audio(audio: np.ndarray, rate_hz: float, settings: MetricSettings = MetricSettings()) -> AudioAnalysis:
    """All per-window audio measures of a stereo signal (see AudioAnalysis and docs/metric.md)."""
    if not (isinstance(rate_hz, (int, float)) and rate_hz > 0):
        raise InvalidAudio(f"sample rate {rate_hz!r} Hz is not positive")
    x = check_stereo(audio)
    bounds = window_bounds(x.shape[1], rate_hz, settings.window_s)
    n_win = len(bounds)
    level = np.empty(n_win)
    ild = np.empty(n_win)
    gamma = np.empty(n_win)
    pan_index = np.empty(n_win)
    pan_primary = np.empty(n_win)
    corr = np.empty(n_win)
    itd = np.empty(n_win) if settings.itd else None
    for k, (a, b) in enumerate(bounds):
        left, right = x[0, a:b], x[1, a:b]
        e_l, e_r = float(left @ left), float(right @ right)
        level[k] = 10.0 * math.log10((e_l + e_r) / (b - a)) if e_l + e_r > _TINY else -math.inf
        ild[k] = 10.0 * math.log10((e_r + _TINY) / (e_l + _TINY))
        corr[k] = _correlation(float(left @ right), e_l, e_r)
        gamma[k], pan_index[k], pan_primary[k] = window_panning_index(left, right, settings.fft_size)
        if itd is not None:
            itd[k] = gcc_phat_lag_s(left, right, rate_hz, settings.max_itd_ms / 1000.0) * 1000.0
    mid, side = (x[0] + x[1]) / 2.0, (x[0] - x[1]) / 2.0
    e_mid, e_side = float(mid @ mid), float(side @ side)
    side_to_mid = 10.0 * math.log10((e_side + _TINY) / (e_mid + _TINY))
    return AudioAnalysis(
        times_s=(bounds[:, 0] + bounds[:, 1]) / 2.0 / rate_hz,
        level_db=level,
        ild_db=ild,
        pan_ild=pan_from_ild(ild),
        panning_index=gamma,
        pan_index=pan_index,
        pan_primary=pan_primary,
        correlation=corr,
        itd_ms=itd,
        inter_channel_correlation=_correlation(float(x[0] @ x[1]), float(x[0] @ x[0]), float(x[1] @ x[1])),
        side_to_mid_db=side_to_mid,
        is_near_mono=bool(side_to_mid <= settings.near_mono_side_db),
    )


def inter_channel_correlation(stereo: np.ndarray) -> float:
    """Σ L·R / √(Σ L² · Σ R²) over the whole signal; 0 when a channel is silent."""
    x = check_stereo(stereo)
    return _correlation(float(x[0] @ x[1]), float(x[0] @ x[0]), float(x[1] @ x[1]))


def _correlation(cross: float, e_l: float, e_r: float) -> float:
    """Σ L·R / √(Σ L² · Σ R²) from the sums; 0 when a channel is silent."""
    return cross / math.sqrt(e_l * e_r) if e_l > _TINY and e_r > _TINY else 0.0


def window_panning_index(left: np.ndarray, right: np.ndarray, fft_size: int) -> tuple[float, float, float]:
    """Two time–frequency position estimates of one window: (Avendano–Jot Γ, Γ as pan, primary-component pan).

    STFT with Hann frames of fft_size (50 % overlap) inside the window. Per frame and bin (Avendano & Jot 2004,
    signed so that right is positive): ψ = 2|S_L·S_R*| / (|S_L|² + |S_R|²), D = sign(|S_R| − |S_L|),
    Γ = (1 − ψ)·D, weighted by |S_L|² + |S_R|².

    Primary component, per bin over the window's frames: the 2×2 covariance C = [[Φ_LL, Φ_LR], [Φ_LR*, Φ_RR]]
    of a panned source (a, b)·s plus an equal-power uncorrelated diffuse field D is S·(a, b)(a, b)ᵀ + D·I, so its
    principal direction gives R/L = b/a = r = (q + √(q² + 4))/2 with q = (Φ_RR − Φ_LL)/|Φ_LR|, unbiased by the
    diffuse field; the bin is weighted by the primary energy λ₁ − λ₂ = √((Φ_RR − Φ_LL)² + 4|Φ_LR|²).
    With one frame C has rank one and the two estimates agree exactly.
    """
    n = left.size
    frame = min(fft_size, n)
    hop = max(1, frame // 2)
    starts = np.arange(0, n - frame + 1, hop)
    win = scipy.signal.get_window("hann", frame) if frame > 2 else np.ones(frame)
    idx = starts[:, None] + np.arange(frame)[None, :]
    spec_l = np.fft.rfft(left[idx] * win, axis=-1)
    spec_r = np.fft.rfft(right[idx] * win, axis=-1)
    mag_l, mag_r = np.abs(spec_l), np.abs(spec_r)
    energy = mag_l**2 + mag_r**2
    total = float(energy.sum())
    if total <= _TINY:
        return 0.0, 0.0, 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        psi = np.where(energy > 0, np.clip(2.0 * mag_l * mag_r / energy, 0.0, 1.0), 1.0)
    gamma = (1.0 - psi) * np.sign(mag_r - mag_l)
    index = float((gamma * energy).sum() / total)
    index_pan = float((pan_from_panning_index(gamma) * energy).sum() / total)

    phi_ll, phi_rr = (mag_l**2).sum(axis=0), (mag_r**2).sum(axis=0)
    phi_lr = np.abs((spec_l * np.conj(spec_r)).sum(axis=0))
    diff = phi_rr - phi_ll
    primary = np.sqrt(diff**2 + 4.0 * phi_lr**2)
    # R/L = tan θ; θ = atan2(b, a) with (a, b) ∝ (2|Φ_LR|, λ₁ − Φ_LL) — the same r, finite for hard-panned bins.
    theta = np.arctan2(primary + diff, 2.0 * phi_lr)
    theta = np.where(phi_lr > _TINY, theta, np.where(diff > 0, math.pi / 2.0, 0.0))
    # Sum the primary energy per channel over bins, then invert the pan law once: a window with two sources in
    # different bins reads as the pan of their summed channel energies, as the expected position is defined.
    direct_l, direct_r = float(primary @ np.cos(theta) ** 2), float(primary @ np.sin(theta) ** 2)
    primary_pan = (4.0 / math.pi) * math.atan2(math.sqrt(direct_r), math.sqrt(direct_l)) - 1.0 if direct_l + direct_r > _TINY else 0.0
    return index, index_pan, primary_pan


def gcc_phat_lag_s(left: np.ndarray, right: np.ndarray, rate_hz: float, max_lag_s: float) -> float:
    """Generalised cross-correlation with phase transform: the lag of the left channel behind the right, in s.

    If left(t) = right(t − τ), the PHAT-weighted cross-spectrum S_L·S_R* / |S_L·S_R*| = e^{−jωτ} and its inverse
    transform peaks at +τ. Searched within ±max_lag_s; 0 for silence.
    """
    n = left.size
    size = 1 << int(math.ceil(math.log2(max(2, 2 * n))))
    cross = np.fft.rfft(left, size) * np.conj(np.fft.rfft(right, size))
    mag = np.abs(cross)
    if float(mag.max()) <= _TINY:
        return 0.0
    cc = np.fft.irfft(np.where(mag > _TINY * mag.max(), cross / np.maximum(mag, _TINY), 0.0), size)
    max_lag = min(int(max_lag_s * rate_hz), n - 1)
    lags = np.arange(-max_lag, max_lag + 1)
    return float(lags[int(np.argmax(cc[lags]))] / rate_hz)


# ---------------------------------------------------------------------------------------- picture side
@dataclass(frozen=True, eq=False)
class ExpectedObject:
    """Where one sounding object is, and how much it should weigh in the expected position.

    weight: a constant factor (a track's salience; 1 for ground truth). source: the mono signal the object
    plays, if known (ground truth): then its energy in each window joins the weight. present_from_s/to_s:
    when the object exists (a track's first and last time); None: always.
    """

    trajectory: Trajectory
    weight: float = 1.0
    source: np.ndarray | None = None
    source_rate_hz: float = 48_000.0
    present_from_s: float | None = None
    present_to_s: float | None = None


@dataclass(frozen=True, eq=False)
class ExpectedPosition:
    """What the picture predicts per window: pan, level (dB, up to a constant) and whether anything sounds."""

    times_s: np.ndarray
    pan: np.ndarray
    level_db: np.ndarray
    present: np.ndarray


def expected_position(
    objects: Sequence[ExpectedObject], window_times_s: np.ndarray, window_s: float, settings: SpatialSettings = SpatialSettings()
) -> ExpectedPosition:
    """Expected pan per window: the pan of the expected channel energies under the constant-power law,
    E_L = Σ wᵢ·cos²θᵢ, E_R = Σ wᵢ·sin²θᵢ (θᵢ = (panᵢ + 1)·π/4), pan = (4/π)·atan(√(E_R/E_L)) − 1, with
    wᵢ = weightᵢ · gᵢ(distance)² · 10^(gain_dbᵢ/10) · Eᵢ. One object gives its own pan.

    Each quantity is taken at 8 points inside the window. gᵢ is the renderer's distance law and Eᵢ the
    object's source energy in the window (1 if the source is unknown). level_db is 10·log10(mean Σ wᵢ).
    """
    t = np.asarray(window_times_s, dtype=np.float64)
    offsets = (np.arange(8) + 0.5) / 8.0 - 0.5
    sub = t[:, None] + offsets[None, :] * window_s  # (windows, 8)
    energy_l = np.zeros(t.size)
    energy_r = np.zeros(t.size)
    for obj in objects:
        traj = obj.trajectory
        pan = np.interp(sub, traj.times_s, traj.pan)
        dist = np.interp(sub, traj.times_s, traj.distance_m)
        gain = np.interp(sub, traj.times_s, traj.gain_db)
        energy = distance_gain(dist, settings.reference_distance_m, settings.max_distance_m) ** 2 * 10.0 ** (gain / 10.0)
        inside = np.ones_like(sub, dtype=bool)
        if obj.present_from_s is not None:
            inside &= sub >= obj.present_from_s
        if obj.present_to_s is not None:
            inside &= sub <= obj.present_to_s
        w = obj.weight * energy * inside
        if obj.source is not None:
            w = w * _window_energy(np.asarray(obj.source, dtype=np.float64), obj.source_rate_hz, t, window_s)[:, None]
        gain_l, gain_r = pan_gains(pan, "constant_power")
        energy_l += (w * gain_l**2).sum(axis=1)
        energy_r += (w * gain_r**2).sum(axis=1)
    den = energy_l + energy_r
    present = den > _TINY
    with np.errstate(invalid="ignore", divide="ignore"):
        pan_mean = np.where(present, (4.0 / math.pi) * np.arctan2(np.sqrt(energy_r), np.sqrt(energy_l)) - 1.0, 0.0)
        level = np.where(present, 10.0 * np.log10(np.maximum(den, _TINY) / 8.0), -np.inf)
    return ExpectedPosition(times_s=t, pan=pan_mean, level_db=level, present=present)


def _window_energy(source: np.ndarray, rate_hz: float, centres_s: np.ndarray, window_s: float) -> np.ndarray:
    """Mean square of a mono source in each window centred at centres_s."""
    csum = np.concatenate([[0.0], np.cumsum(source**2)])
    a = np.clip(np.round((centres_s - window_s / 2.0) * rate_hz).astype(int), 0, source.size)
    b = np.clip(np.round((centres_s + window_s / 2.0) * rate_hz).astype(int), 0, source.size)
    return np.where(b > a, (csum[b] - csum[a]) / np.maximum(b - a, 1), 0.0)


def expected_from_tracks(tracks: Iterable[Any], settings: SpatialSettings = SpatialSettings()) -> list[ExpectedObject]:
    """Sounding tracks (all tracks if none is marked sounding) as expected objects weighted by salience.

    Works with any object that has `sounding`, `salience`, `times_s` and `to_trajectory(settings)`
    (stereofoley.vision.ObjectTrack).
    """
    tracks = list(tracks)
    sounding = [t for t in tracks if getattr(t, "sounding", True)] or tracks
    out = []
    for track in sounding:
        times = np.asarray(track.times_s, dtype=np.float64)
        if times.size == 0:
            continue
        step = float(np.median(np.diff(times))) if times.size > 1 else 0.0
        out.append(
            ExpectedObject(
                trajectory=track.to_trajectory(settings),
                weight=max(float(getattr(track, "salience", 1.0)), 1e-6),
                present_from_s=float(times[0]) - step / 2.0,
                present_to_s=float(times[-1]) + step / 2.0,
            )
        )
    return out


# ------------------------------------------------------------------------------------------------ scores
@dataclass(frozen=True)
class Score:
    position_correlation: float
    position_mae_pan: float
    position_mae_deg: float
    direction_agreement: float | None  # None when no scored window is clearly off-centre
    direction_chance: float | None
    direction_windows: int
    level_distance_correlation: float | None  # None when the expected level barely varies
    level_distance_slope: float | None  # audio dB per expected dB (1 for the free-field distance law)
    scored_windows: int
    window_s: float
    estimator: str
    inter_channel_correlation: float
    side_to_mid_db: float
    is_near_mono: bool
    ild_position_correlation: float  # the position correlation with each audio estimator
    index_position_correlation: float
    primary_position_correlation: float

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in out.items()}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 when either series is constant (it then carries no positional information)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2:
        return 0.0
    da, db = a - a.mean(), b - b.mean()
    norm = math.sqrt(float(da @ da) * float(db @ db))
    scale = max(1.0, float(np.abs(a).max()), float(np.abs(b).max()))
    if norm <= 1e-9 * scale**2 * a.size:
        return 0.0
    return float(da @ db) / norm


def direction_scores(audio_pan: np.ndarray, expected_pan: np.ndarray, off_centre_pan: float, undecided_pan: float) -> tuple[float | None, float | None, int]:
    """Agreement of sign(audio pan) with sign(expected pan) where |expected| ≥ off_centre_pan, and its chance level.

    An audio window with |pan| < undecided_pan has no direction and counts ½ (a coin toss). The chance level is
    the exact mean agreement over all permutations of the audio windows: for a judged window of sign s it is
    (#audio windows of sign s + ½·#undecided) / #windows, averaged over the judged windows.
    """
    a = np.asarray(audio_pan, dtype=np.float64)
    e = np.asarray(expected_pan, dtype=np.float64)
    judged = np.abs(e) >= off_centre_pan
    if not judged.any() or a.size == 0:
        return None, None, 0
    a_sign = np.where(np.abs(a) < undecided_pan, 0.0, np.sign(a))
    e_sign = np.sign(e[judged])
    hits = np.where(a_sign[judged] == 0.0, 0.5, (a_sign[judged] == e_sign).astype(float))
    share = {s: (np.sum(a_sign == s) + 0.5 * np.sum(a_sign == 0.0)) / a.size for s in (-1.0, 1.0)}
    chance = np.array([share[s] for s in e_sign])
    return float(hits.mean()), float(chance.mean()), int(judged.sum())


def level_scores(audio_level_db: np.ndarray, expected_level_db: np.ndarray, min_range_db: float) -> tuple[float | None, float | None]:
    """Correlation and least-squares slope of audio level (dB) on expected level (dB); None without enough range."""
    a = np.asarray(audio_level_db, dtype=np.float64)
    e = np.asarray(expected_level_db, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(e)
    a, e = a[ok], e[ok]
    if a.size < 3 or float(e.max() - e.min()) < min_range_db:
        return None, None
    de = e - e.mean()
    return pearson(a, e), float(de @ (a - a.mean()) / (de @ de))


def score(audio: AudioAnalysis, expected: ExpectedPosition, settings: MetricSettings = MetricSettings()) -> Score:
    """Compare audio-derived and picture-derived positions on the windows where both have something."""
    if audio.times_s.shape != expected.times_s.shape:
        raise InvalidParameter(f"audio has {audio.times_s.size} windows, the expected position {expected.times_s.size}")
    scored = audio.active(settings.silence_db) & expected.present
    a_pan, e_pan = audio.pan(settings.estimator)[scored], expected.pan[scored]
    mae = float(np.mean(np.abs(a_pan - e_pan))) if a_pan.size else math.nan
    deg = azimuth_from_pan(np.abs(a_pan - e_pan), settings.hfov_deg, settings.stereo_width)
    agreement, chance, judged = direction_scores(a_pan, e_pan, settings.off_centre_pan, settings.undecided_pan)
    level_corr, slope = level_scores(audio.level_db[scored], expected.level_db[scored], settings.min_level_range_db)
    return Score(
        position_correlation=pearson(a_pan, e_pan),
        position_mae_pan=mae,
        position_mae_deg=float(deg.mean()) if deg.size else math.nan,
        direction_agreement=agreement,
        direction_chance=chance,
        direction_windows=judged,
        level_distance_correlation=level_corr,
        level_distance_slope=slope,
        scored_windows=int(scored.sum()),
        window_s=settings.window_s,
        estimator=settings.estimator,
        inter_channel_correlation=audio.inter_channel_correlation,
        side_to_mid_db=audio.side_to_mid_db,
        is_near_mono=audio.is_near_mono,
        ild_position_correlation=pearson(audio.pan_ild[scored], e_pan),
        index_position_correlation=pearson(audio.pan_index[scored], e_pan),
        primary_position_correlation=pearson(audio.pan_primary[scored], e_pan),
    )


def score_audio(
    audio: np.ndarray,
    rate_hz: float,
    objects: Sequence[ExpectedObject],
    *,
    spatial: SpatialSettings = SpatialSettings(),
    settings: MetricSettings | None = None,
) -> Score:
    """Analyse a stereo signal and score it against expected objects (the one-call form)."""
    settings = settings or MetricSettings.matching(spatial)
    analysis = analyze_audio(audio, rate_hz, settings)
    expected = expected_position(objects, analysis.times_s, settings.window_s, spatial)
    return score(analysis, expected, settings)
