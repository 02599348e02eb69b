"""The Ardour round trip against the real Ardour 7: the engine writes a session from a rendered edit, Ardour
renders it headless (ardour7-export), and the result is compared with the engine's own mix."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from stereofoley import SAMPLE_RATE_HZ, cli
from stereofoley.hosts.ardour import ardour_pan_gains, ardour_pan_position, superclock
from stereofoley.spatial.dsp import pan_gains

from .conftest import ardour_export, needs_ardour, render_edit

WINDOW = SAMPLE_RATE_HZ // 10  # 100 ms


def window_db(x: np.ndarray) -> np.ndarray:
    """(2, windows) mean power per channel in dB."""
    n = x.shape[1] // WINDOW
    return 10 * np.log10((x[:, : n * WINDOW].reshape(2, n, WINDOW) ** 2).mean(axis=2) + 1e-20)


def test_pan_mapping_reproduces_the_engine_image():
    pan = np.linspace(-1, 1, 201)
    left, right = pan_gains(pan)
    a_left, a_right = ardour_pan_gains(ardour_pan_position(pan))
    ild_engine = 20 * np.log10(np.maximum(right, 1e-12) / np.maximum(left, 1e-12))
    ild_ardour = 20 * np.log10(np.maximum(a_right, 1e-12) / np.maximum(a_left, 1e-12))
    inner = np.abs(pan) < 0.98
    assert np.max(np.abs(ild_engine[inner] - ild_ardour[inner])) < 0.01  # dB
    assert np.max(np.abs(10 * np.log10((a_left**2 + a_right**2) / (left**2 + right**2)))) < 0.2  # Ardour's -3 dB law
    assert superclock(1) == 5880 and superclock(SAMPLE_RATE_HZ) == 282_240_000


def _session(tmp_path, preset_name, *extra):
    edit = render_edit(tmp_path, preset_name)
    out = tmp_path / "session"
    assert cli.main(["ardour-session", str(edit.report), "--out", str(out), "--name", "edit", *extra]) == 0
    return edit, out


@needs_ardour
@pytest.mark.parametrize("preset_name", ["dry", "natural"])
def test_object_tracks_rendered_by_ardour_match_the_engine_mix(tmp_path, preset_name):
    edit, out = _session(tmp_path, preset_name)
    root = ET.parse(out / "edit.ardour").getroot()
    assert [r.get("name") for r in root.find("Routes")][:2] == ["Master", "StereoFoley mix"]
    rendered = ardour_export(out, "edit", tmp_path / "objects.wav")
    end = edit.starts[-1] + edit.mixes[-1].shape[1]
    assert rendered.shape[1] >= end
    assert np.max(np.abs(rendered[:, : edit.starts[0]])) == 0.0  # nothing before the first region (the mix is muted)
    for start, mix in zip(edit.starts, edit.mixes):
        ours = rendered[:, start : start + mix.shape[1]]
        level_db = 10 * np.log10((ours**2).mean() / (mix**2).mean())
        assert abs(level_db) < 1.0, f"level {level_db:+.2f} dB"
        ild_ardour = np.diff(window_db(ours), axis=0)[0]
        ild_engine = np.diff(window_db(mix), axis=0)[0]
        assert np.corrcoef(ild_ardour, ild_engine)[0, 1] >= 0.95
        assert np.max(np.abs(ild_ardour - ild_engine)) < 1.0  # dB, every 100 ms window
        if preset_name == "dry":  # free field: the object tracks are the mix, up to Ardour's gain interpolation
            assert abs(level_db) < 0.25
            assert np.max(np.abs(np.diff(window_db(ours) - window_db(mix), axis=0))) < 0.5


@needs_ardour
def test_mix_regions_are_sample_exact(tmp_path):
    edit, out = _session(tmp_path, "dry", "--mix-only")
    rendered = ardour_export(out, "edit", tmp_path / "mix.wav")
    expected = np.zeros((2, edit.starts[-1] + edit.mixes[-1].shape[1]))
    for start, mix in zip(edit.starts, edit.mixes):
        expected[:, start : start + mix.shape[1]] = mix
    assert rendered.shape[1] >= expected.shape[1]
    assert np.max(np.abs(rendered[:, : expected.shape[1]] - expected)) < 2.0**-22  # 24-bit: the same samples
    assert np.max(np.abs(rendered[:, expected.shape[1]:]), initial=0.0) == 0.0


def test_session_file_shape(tmp_path):
    edit, out = _session(tmp_path, "dry", "--osc")
    root = ET.parse(out / "edit.ardour").getroot()
    regions = [r for r in root.iter("Region") if r.get("whole-file") == "0"]
    assert sorted(int(r.get("position")[1:]) for r in regions if r.get("channels") == "2") == [superclock(s) for s in edit.starts]
    assert (out / "interchange" / "edit" / "audiofiles").is_dir()
    osc = [p for p in root.iter("Protocol") if p.get("name") == "Open Sound Control (OSC)"]
    assert osc and osc[0].get("active") == "1"
    gain_lists = [a for a in root.iter("AutomationList") if a.get("automation-id") == "gain" and a.get("state") == "Play"]
    assert len(gain_lists) == 3  # one per object track
    report = json.loads(edit.report.read_text())
    first = report["clips"][0]["objects"][0]["curves"]["gain_db"]
    events = [line.split() for line in gain_lists[0].find("events").text.split("\n") if line]
    assert int(events[0][0][1:]) == superclock(edit.starts[0])
    assert float(events[0][1]) == pytest.approx(10 ** (first[0][1] / 20), rel=1e-6)
    assert cli.main(["ardour-session", str(edit.report), "--out", str(out), "--name", "edit"]) == 1  # never overwrites
