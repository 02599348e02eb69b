"""Generators for the plug-in contract tests: one well-behaved, the others broken in the ways a model can be."""

import numpy as np

SINE_HZ = 440.0


def sine(request):
    """A 440 Hz sine of the requested length whose amplitude encodes the seed and whose phase the media start."""
    t = np.arange(request.n_samples) / request.sample_rate_hz + request.media_start_s
    return 0.1 * (1 + request.seed % 3) * np.sin(2 * np.pi * SINE_HZ * t)


def returns_nan(request):
    out = np.zeros(request.n_samples)
    out[request.n_samples // 2] = np.nan
    return out


def raises(request):
    raise RuntimeError("model weights not found")


def wrong_length(request):
    return np.zeros(request.n_samples - 1)


def wrong_shape(request):
    return np.zeros((2, request.n_samples))
