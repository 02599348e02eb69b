"""Procedural voices in numpy: a sound for the common sounding classes with nothing installed.

Each voice is a small function `voice(..., rng) -> float32 (n,)` at 48 kHz, normalised to a nominal level
(RMS −24 dBFS, peaks at most −3 dBFS) so voices mix at comparable loudness; `synth_source` then applies the
motion level rules of `motion.py`. Randomness comes only from the `rng` passed in, so a seed fixes the sound.

Spectral centroids (measured by tests/sources/test_synth.py; the bands there are the contract):
vehicle at 10 m/s 250–900 Hz (rising with speed), footsteps 400–2500 Hz, dog 500–2000 Hz, birds 2500–6500 Hz, whoosh 500–3500 Hz,
room tone below 300 Hz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal

from .. import SAMPLE_RATE_HZ
from .motion import Motion, footstep_cadence_hz, level_gain
from ..vocabulary import Vocabulary, builtin_vocabulary

SR = SAMPLE_RATE_HZ
NOMINAL_RMS_DBFS = -24.0
NOMINAL_PEAK_DBFS = -3.0

# Firing frequency at rest (Hz) and its rise per m/s of speed, per vehicle class: bigger engines turn slower.
ENGINE_TUNING_HZ = {
    "car": (28.0, 2.5),
    "motorcycle": (45.0, 4.0),
    "bus": (18.0, 1.6),
    "truck": (18.0, 1.6),
    "train": (15.0, 1.2),
    "boat": (20.0, 2.0),
    "airplane": (60.0, 0.5),
}


@dataclass(frozen=True)
class Call:
    """One animal call: fundamental, relative pitch glide over the call, duration, formant, mean gap."""

    f0_hz: float
    glide: float  # f0 goes from f0 to f0·(1 + glide) over the call
    duration_s: float
    formant_hz: float
    interval_s: float
    vibrato_hz: float = 0.0
    noise: float = 0.15  # share of breath noise


ANIMAL_CALLS = {
    "dog": Call(f0_hz=480.0, glide=-0.3, duration_s=0.14, formant_hz=1100.0, interval_s=1.2),
    "cat": Call(f0_hz=600.0, glide=0.25, duration_s=0.55, formant_hz=1500.0, interval_s=2.5),
    "horse": Call(f0_hz=380.0, glide=-0.4, duration_s=0.9, formant_hz=1000.0, interval_s=3.0, vibrato_hz=9.0),
    "zebra": Call(f0_hz=420.0, glide=-0.3, duration_s=0.5, formant_hz=1100.0, interval_s=2.5, vibrato_hz=12.0),
    "sheep": Call(f0_hz=300.0, glide=-0.05, duration_s=0.6, formant_hz=900.0, interval_s=2.5, vibrato_hz=6.0),
    "cow": Call(f0_hz=140.0, glide=0.1, duration_s=1.2, formant_hz=500.0, interval_s=3.5),
    "elephant": Call(f0_hz=420.0, glide=0.2, duration_s=1.0, formant_hz=900.0, interval_s=4.0, noise=0.3),
    "bear": Call(f0_hz=110.0, glide=-0.1, duration_s=0.8, formant_hz=450.0, interval_s=3.0, noise=0.5),
    "giraffe": Call(f0_hz=92.0, glide=0.0, duration_s=1.0, formant_hz=300.0, interval_s=4.0, noise=0.2),
}


# ---------------------------------------------------------------------------------------------- helpers
def _bandpass(x: np.ndarray, low_hz: float, high_hz: float, order: int = 2) -> np.ndarray:
    sos = scipy.signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=SR, output="sos")
    return scipy.signal.sosfilt(sos, x)


def _lowpass(x: np.ndarray, cutoff_hz: float, order: int = 2) -> np.ndarray:
    return scipy.signal.sosfilt(scipy.signal.butter(order, cutoff_hz, fs=SR, output="sos"), x)


def nominal(x: np.ndarray) -> np.ndarray:
    """Scale to RMS −24 dBFS, then down if a peak would pass −3 dBFS. Silence stays silence."""
    x = np.asarray(x, dtype=np.float64)
    rms = math.sqrt(float(np.mean(x * x))) if x.size else 0.0
    if rms <= 1e-12:
        return np.zeros(x.shape, dtype=np.float32)
    x = x * (10.0 ** (NOMINAL_RMS_DBFS / 20.0) / rms)
    peak = float(np.max(np.abs(x)))
    ceiling = 10.0 ** (NOMINAL_PEAK_DBFS / 20.0)
    return (x * min(1.0, ceiling / peak)).astype(np.float32)


def _event_times_s(duration_s: float, mean_interval_s: float, rng: np.random.Generator) -> np.ndarray:
    """Seeded, roughly regular event times: gaps of 0.5–1.5 × the mean interval; the first within one interval
    and within the first half of the render, so an animal on screen is heard at least once."""
    times, t = [], rng.uniform(0.0, min(mean_interval_s, 0.5 * duration_s))
    while t < duration_s:
        times.append(t)
        t += mean_interval_s * rng.uniform(0.5, 1.5)
    return np.array(times)


def _place(out: np.ndarray, event: np.ndarray, start: int) -> None:
    if start >= out.size or start + event.size <= 0:
        return
    lo = max(0, -start)
    hi = min(event.size, out.size - start)
    out[start + lo : start + hi] += event[lo:hi]


# ------------------------------------------------------------------------------------------------ voices
def engine(speed_m_s: np.ndarray, rng: np.random.Generator, *, idle_hz: float = 28.0, hz_per_m_s: float = 2.5) -> np.ndarray:
    """Combustion engine: a harmonic buzz whose firing frequency and brightness (load) follow speed.

    f0 = idle_hz + hz_per_m_s · v; harmonic k has amplitude k^(−tilt), tilt falling from 1.4 (idle) to 0.8
    (30 m/s and up) so the engine brightens under load; combustion noise is pulsed at the firing rate.
    """
    v = np.asarray(speed_m_s, dtype=np.float64)
    f0 = idle_hz + hz_per_m_s * v
    phase = 2.0 * np.pi * np.cumsum(f0) / SR
    tilt = 1.4 - 0.6 * np.clip(v / 30.0, 0.0, 1.0)
    tone = np.zeros_like(v)
    for k in range(1, 33):
        alive = (k * f0 < 0.45 * SR).astype(np.float64)
        tone += alive * np.exp(-tilt * math.log(k)) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    pulses = 0.5 + 0.5 * np.cos(phase)
    combustion = _lowpass(rng.standard_normal(v.size), 1500.0) * pulses**4
    return nominal(tone + 0.6 * combustion)


def pass_by_whoosh(speed_m_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Tyre and air noise of a moving vehicle: band noise 250–2500 Hz whose level rises with speed (v/20 m/s)."""
    v = np.asarray(speed_m_s, dtype=np.float64)
    return nominal(_bandpass(rng.standard_normal(v.size), 250.0, 2500.0) * np.clip(v / 20.0, 0.0, 1.5))


def vehicle(speed_m_s: np.ndarray, rng: np.random.Generator, kind: str = "car") -> np.ndarray:
    """Engine plus pass-by tyre/air noise, tuned per vehicle class (see ENGINE_TUNING_HZ)."""
    idle_hz, hz_per_m_s = ENGINE_TUNING_HZ.get(kind, ENGINE_TUNING_HZ["car"])
    return nominal(engine(speed_m_s, rng, idle_hz=idle_hz, hz_per_m_s=hz_per_m_s) + 0.5 * pass_by_whoosh(speed_m_s, rng))


def footstep_times_s(speed_m_s: np.ndarray) -> np.ndarray:
    """A step each time the integrated cadence (steps/s from walking speed) passes a whole number."""
    steps = np.cumsum(footstep_cadence_hz(speed_m_s)) / SR + 0.5  # first step half a stride in
    return np.flatnonzero(np.diff(np.floor(steps)) > 0) / SR


def footsteps(speed_m_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heel-then-toe noise bursts (150–3000 Hz, 12 ms decay) with a low thump, timed to the gait.

    Each step is scaled by √(cadence at 1.4 m/s / cadence), so the power per second does not grow with the step
    rate: how loud a faster walker is stays the level rule's business (motion.py), bounded there."""
    speed = np.asarray(speed_m_s, dtype=np.float64)
    n = speed.size
    out = np.zeros(n)
    burst_n = int(0.08 * SR)
    t = np.arange(burst_n) / SR
    walking = float(footstep_cadence_hz(np.array([1.4]))[0])
    for step_s in footstep_times_s(speed_m_s):
        start = int(round((step_s + rng.uniform(-0.01, 0.01)) * SR))
        cadence = float(footstep_cadence_hz(speed[min(max(start, 0), n - 1) : min(max(start, 0), n - 1) + 1])[0])
        gain = 10.0 ** (rng.uniform(-2.0, 2.0) / 20.0) * math.sqrt(walking / max(cadence, 1.0))
        heel = _bandpass(rng.standard_normal(burst_n), 150.0, 3000.0) * np.exp(-t / 0.012)
        thump = 0.6 * np.sin(2 * np.pi * rng.uniform(70.0, 110.0) * t) * np.exp(-t / 0.02)
        toe = _bandpass(rng.standard_normal(burst_n), 300.0, 4000.0) * np.exp(-t / 0.008) * 0.5
        _place(out, gain * (heel + thump), start)
        _place(out, gain * toe, start + int(rng.uniform(0.03, 0.05) * SR))
    return nominal(out)


def animal_call(call: Call, rng: np.random.Generator) -> np.ndarray:
    """One vocal burst: a gliding harmonic tone shaped by one formant, with breath noise and a soft envelope."""
    m = int(call.duration_s * SR)
    t = np.arange(m) / SR
    f0 = call.f0_hz * (1.0 + call.glide * t / call.duration_s) * rng.uniform(0.95, 1.05)
    if call.vibrato_hz:
        f0 = f0 * (1.0 + 0.04 * np.sin(2 * np.pi * call.vibrato_hz * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = np.zeros(m)
    for k in range(1, 16):
        weight = 1.0 / k + 2.0 * np.exp(-(((k * f0 - call.formant_hz) / (0.5 * call.formant_hz)) ** 2))
        tone += (k * f0 < 0.45 * SR) * weight * np.sin(k * phase)
    breath = _bandpass(rng.standard_normal(m), 0.5 * call.formant_hz, min(2.0 * call.formant_hz, 0.45 * SR))
    envelope = np.sin(np.pi * t / call.duration_s) ** 0.5
    return envelope * ((1.0 - call.noise) * tone / 4.0 + call.noise * 3.0 * breath)


def animal(n_samples: int, rng: np.random.Generator, kind: str = "dog") -> np.ndarray:
    """Vocal bursts of an animal class at seeded times (mean gap per class); a dog barks in ones to threes."""
    call = ANIMAL_CALLS.get(kind, ANIMAL_CALLS["dog"])
    out = np.zeros(n_samples)
    for start_s in _event_times_s(n_samples / SR, call.interval_s, rng):
        for i in range(int(rng.integers(1, 4)) if kind == "dog" else 1):
            _place(out, animal_call(call, rng), int((start_s + i * 0.25) * SR))
    return nominal(out)


def birds(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Songbird chirps: 40–90 ms sine sweeps between 2.8 and 5.5 kHz, in phrases of 2–5 every ~1 s."""
    out = np.zeros(n_samples)
    for phrase_s in _event_times_s(n_samples / SR, 1.0, rng):
        for i in range(int(rng.integers(2, 6))):
            m = int(rng.uniform(0.04, 0.09) * SR)
            t = np.arange(m) / SR
            f_start, f_end = rng.uniform(4000.0, 5500.0), rng.uniform(2800.0, 4000.0)
            f = f_start + (f_end - f_start) * t / t[-1]
            chirp = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.sin(np.pi * t / t[-1]) ** 2
            _place(out, chirp, int((phrase_s + i * 0.12) * SR))
    return nominal(out)


def whoosh(speed_m_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Generic motion: noise that brightens with speed (a 200–1200 Hz band crossfading to 800–5000 Hz by 15 m/s)."""
    v = np.asarray(speed_m_s, dtype=np.float64)
    bright = np.clip(v / 15.0, 0.0, 1.0)
    noise = rng.standard_normal(v.size)
    return nominal((1.0 - bright) * _bandpass(noise, 200.0, 1200.0) + bright * _bandpass(noise, 800.0, 5000.0))


def room_tone(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A quiet room bed: noise low-passed at 200 Hz (fourth order), for under the objects."""
    return nominal(_lowpass(rng.standard_normal(n_samples), 200.0, order=4))


# --------------------------------------------------------------------------------------------- dispatch
def synth_source(class_name: str, motion: Motion, rng: np.random.Generator, vocabulary: Vocabulary | None = None) -> np.ndarray:
    """The voice the class vocabulary gives a detector class, shaped by the motion level rules (see motion.py).
    A synonym or a user class plays the voice and tuning of the built-in class it stands for ("vehicle": a car)."""
    category = (vocabulary or builtin_vocabulary()).category(class_name)
    voice, kind, n = category.voice, category.kind, motion.n_samples
    if voice == "engine":
        sound = vehicle(motion.speed_m_s, rng, kind)
    elif voice == "steps":
        sound = footsteps(motion.speed_m_s, rng)
    elif voice == "animal":
        sound = animal(n, rng, kind)
    elif voice == "birds":
        sound = birds(n, rng)
    else:
        sound = whoosh(motion.speed_m_s, rng)
    return (sound * level_gain(voice, motion)).astype(np.float32)
