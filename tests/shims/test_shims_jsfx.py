"""The JSFX "StereoFoley Spatial": its @slider maths, evaluated here, against the engine's own functions.

REAPER's EEL2 cannot run here; the @slider block is written in the subset EEL2 shares with Python
(assignments, arithmetic, comparisons, math functions), so the test evaluates the shipped text itself.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from stereofoley.config import PAN_LAWS
from stereofoley.spatial.dsp import air_absorption_db_per_m, distance_gain, pan_gains

JSFX = Path(__file__).resolve().parents[2] / "plugin" / "reaper" / "StereoFoley_Spatial.jsfx"
TEXT = JSFX.read_text()


def sliders() -> dict[str, tuple[float, float, float, str]]:
    """name -> (default, min, max, label) from `sliderN:name=default<min,max,step{...}>Label`."""
    out = {}
    for m in re.finditer(r"^slider\d+:(\w+)=([-\d.]+)<([-\d.]+),([-\d.]+),[\d.]+(?:\{[^}]*\})?>(.*)$", TEXT, re.M):
        out[m[1]] = (float(m[2]), float(m[3]), float(m[4]), m[5])
    return out


def evaluate_slider_block(srate: float = 48000.0, **values: float) -> dict[str, float]:
    block = TEXT.split("@slider", 1)[1].split("\n@", 1)[0]
    code = re.sub(r"//[^\n]*", "", block).replace("$pi", "pi").replace("^", "**")
    env = {"srate": srate, "pi": math.pi, **{k: getattr(math, k) for k in ("cos", "sin", "sqrt", "exp", "log10")}, "min": min, "max": max}
    env.update({name: default for name, (default, *_rest) in sliders().items()})
    env.update(values)
    for statement in filter(str.strip, code.split(";")):
        exec(statement.strip(), env)  # noqa: S102 - the shipped plug-in's own arithmetic
    return env


def test_sliders_cover_the_engine_ranges_in_fx_parameter_order():
    s = sliders()
    assert list(s) == ["pan", "gain_db", "distance_m", "law", "reference_distance_m", "max_distance_m", "air"]
    assert s["pan"][:3] == (0.0, -1.0, 1.0)
    assert s["distance_m"][1] <= 0.1 and s["distance_m"][2] >= 200.0
    labels = re.search(r"slider4:law=0<0,2,1\{([^}]*)\}", TEXT)[1].split(",")
    assert [label.split(" ")[0] for label in labels] == ["constant", "-4.5", "linear"] and len(PAN_LAWS) == 3


@pytest.mark.parametrize("law_index, law", list(enumerate(PAN_LAWS)))
@pytest.mark.parametrize("pan", [-1.0, -0.6, -0.1, 0.0, 0.3, 0.85, 1.0])
def test_pan_gains_equal_the_engine_pan_law(law_index, law, pan):
    env = evaluate_slider_block(pan=pan, law=law_index, gain_db=0.0, distance_m=1.0)
    left, right = pan_gains(np.array([pan]), law)
    assert env["target_l"] == pytest.approx(float(left[0]), abs=1e-12)
    assert env["target_r"] == pytest.approx(float(right[0]), abs=1e-12)


@pytest.mark.parametrize("distance_m", [0.3, 1.0, 2.0, 7.5, 50.0, 200.0, 900.0])
@pytest.mark.parametrize("gain_db", [-12.0, 0.0, 3.0])
def test_level_follows_gain_and_the_inverse_distance_law(distance_m, gain_db):
    env = evaluate_slider_block(pan=0.0, law=0, gain_db=gain_db, distance_m=distance_m, reference_distance_m=1.0, max_distance_m=200.0)
    expected = 10 ** (gain_db / 20) * float(distance_gain(np.array([distance_m]), 1.0, 200.0)[0]) * math.cos(math.pi / 4)
    assert env["target_l"] == pytest.approx(expected, rel=1e-12)
    assert env["target_r"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("distance_m", [10.0, 25.0, 50.0, 100.0, 200.0])
def test_low_pass_cuts_where_iso_air_absorption_reaches_3_db(distance_m):
    env = evaluate_slider_block(distance_m=distance_m, air=1)
    assert env["lp_on"] == 1
    absorbed_db = float(air_absorption_db_per_m(np.array([env["cutoff_hz"]]))[0]) * distance_m
    assert absorbed_db == pytest.approx(3.0, abs=0.8)
    # The one-pole's response at that cutoff is -3 dB.
    w = 2 * math.pi * env["cutoff_hz"] / 48000
    a = env["coef"]
    h = abs(a / (1 - (1 - a) * complex(math.cos(w), -math.sin(w))))
    assert 20 * math.log10(h) == pytest.approx(-3.0103, abs=1e-6)


def test_low_pass_is_bypassed_near_and_when_off():
    assert evaluate_slider_block(distance_m=1.0, air=1)["lp_on"] == 0  # the cutoff lies above 0.45 * srate
    assert evaluate_slider_block(distance_m=100.0, air=0)["lp_on"] == 0
