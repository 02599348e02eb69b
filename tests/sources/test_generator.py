"""The plug-in contract, exercised by generators installed into the test environment (tests/sources/plugins)."""

from __future__ import annotations

import numpy as np
import pytest

from stereofoley.errors import GeneratorFailed, InvalidParameter
from stereofoley.sources import make_source_for
from stereofoley.sources.generator import ENTRY_POINT_GROUP, available_generators, load_generator

from .conftest import SR, dominant_hz, make_track


def test_installed_generators_are_discovered(test_generators):
    found = available_generators()
    assert found["sine-test"] == "stereofoley_testgen:sine"
    assert "example" in found
    assert ENTRY_POINT_GROUP == "stereofoley.generators"


def test_generator_gets_the_request_and_its_audio_is_used(test_generators, tmp_path):
    media = tmp_path / "clip.mov"
    media.write_bytes(b"")  # generators receive the path; this one does not open it
    source_for = make_source_for("generator:sine-test", seed=1, media_path=media, media_start_s=0.25)
    track = make_track("car", x=(0.1, 0.9))
    sound = source_for(track, SR)
    assert sound.shape == (SR,) and sound.dtype == np.float32
    assert abs(dominant_hz(sound) - 440.0) < 2.0
    assert np.max(np.abs(sound)) == pytest.approx(0.2, rel=1e-3)  # amplitude 0.1·(1 + seed % 3): the seed arrived
    t = np.arange(SR) / SR + 0.25
    np.testing.assert_allclose(sound, 0.2 * np.sin(2 * np.pi * 440 * t), atol=1e-6)  # media_start_s arrived
    assert source_for.choices == {1: "generator:sine-test"}


def test_request_fields(monkeypatch):
    seen = {}

    def spy(request):
        seen["request"] = request
        return np.zeros(request.n_samples)

    import stereofoley.sources.generator as generator

    monkeypatch.setattr(generator, "load_generator", lambda name: spy)  # the factory looks it up at build time
    make_source_for("generator:spy", prompt="the sound of a {class} far away")(make_track("dog", x=(0.2, 0.4)), 1234)
    request = seen["request"]
    assert request.prompt == "the sound of a dog far away"
    assert request.n_samples == 1234 and request.sample_rate_hz == SR and request.class_name == "dog"
    assert request.xyxy_norm.shape == (request.times_s.size, 4) and request.speed_m_s.shape == (1234,)


@pytest.mark.parametrize(
    "name, message",
    [
        ("nan-test", "NaN/inf"),
        ("raise-test", "raised RuntimeError: model weights not found"),
        ("short-test", r"shape \(47999,\)"),
        ("stereo-test", r"shape \(2, 48000\)"),
        ("broken-import-test", "failed to load"),
    ],
)
def test_broken_generators_give_clear_errors_or_the_fallback(test_generators, name, message):
    track = make_track("car", x=(0.1, 0.9))
    with pytest.raises(GeneratorFailed, match=message):
        make_source_for(f"generator:{name}")(track, SR)
    source_for = make_source_for(f"generator:{name},synth")
    sound = source_for(track, SR)
    assert sound.shape == (SR,) and np.isfinite(sound).all() and np.max(np.abs(sound)) > 1e-3
    assert source_for.choices == {1: "synth"}


def test_unknown_generator_is_a_usage_error(test_generators):
    with pytest.raises(InvalidParameter, match="no generator named 'nope'; installed: .*sine-test"):
        make_source_for("generator:nope")


def test_builtin_example_generator_runs_offline():
    assert callable(load_generator("example"))
    track = make_track("person", duration_s=2.0, distance_m=(6.0, 3.0))
    dog = make_source_for("generator:example", prompt="a small dog barking")(track, 2 * SR)
    steps = make_source_for("generator:example")(track, 2 * SR)  # prompt from class + motion: "a person moving slowly"
    assert np.isfinite(dog).all() and np.max(np.abs(dog)) > 1e-3
    power = np.abs(np.fft.rfft(dog)) ** 2
    assert 500 < (power * np.fft.rfftfreq(dog.size, 1 / SR)).sum() / power.sum() < 2000  # the dog voice's band
    assert not np.allclose(dog, steps)


def test_example_is_registered_in_our_pyproject():
    import importlib
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    target = pyproject["project"]["entry-points"][ENTRY_POINT_GROUP]["example"]
    module, attr = target.split(":")
    assert getattr(importlib.import_module(module), attr) is load_generator("example")
