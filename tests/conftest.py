"""Shared fixtures: seeded signals and measurement helpers used across the suite."""

from __future__ import annotations

import numpy as np
import pytest

from stereofoley import SAMPLE_RATE_HZ


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def noise(rng) -> np.ndarray:
    """One second of white noise at 48 kHz, RMS 0.1."""
    return (0.1 * rng.standard_normal(SAMPLE_RATE_HZ)).astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return 10.0 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2) + 1e-30)
