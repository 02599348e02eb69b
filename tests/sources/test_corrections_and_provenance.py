"""Issue 12 part 7: correcting the analysis (an edited tracks.json instead of analysing, --include/--exclude),
choosing an object's sound (--sound ID=FILE, a TOML map), and the record of what each object got."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stereofoley.cli import main
from stereofoley.errors import InvalidParameter, MediaNotFound
from stereofoley.evaluation import synthetic
from stereofoley.jobs import _parse_options
from stereofoley.options import RenderOptions
from stereofoley.vision.tracks import read_tracks, write_tracks

BASE = ["--detector", "motion", "--no-cache", "--seed", "3", "--json"]
TONE_HZ = 440.0


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A passing vehicle (2 s), analysed once; its tracks.json with a second, invented object (id 99, a
    'person' on the left) added as a user would by hand."""
    root = tmp_path_factory.mktemp("corrections")
    video = root / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0, width=160, height=90, fps=Fraction(25)), video)
    assert main(["clip", str(video), "-o", str(root / "analysed.wav"), "--tracks-out", str(root / "tracks.json"),
                 *BASE]) == 0
    analysis = read_tracks(root / "tracks.json")
    assert analysis.tracks
    first = analysis.tracks[0]
    n = first.times_s.size
    invented = type(first)(
        track_id=99, class_name="person", sounding=True, times_s=first.times_s, xyxy_norm=np.tile([0.05, 0.3, 0.2, 0.9], (n, 1)),
        confidence=np.ones(n), x_norm=np.full(n, 0.125), azimuth_deg=np.full(n, -22.0), distance_m=np.full(n, 4.0),
        salience=first.salience * 10.0, hfov_deg=first.hfov_deg, aspect=first.aspect)
    edited = type(analysis)(**{**{f: getattr(analysis, f) for f in analysis.__dataclass_fields__},
                               "tracks": analysis.tracks + (invented,)})
    write_tracks(edited, root / "edited.json")
    tone = 0.3 * np.sin(2 * np.pi * TONE_HZ * np.arange(48000) / 48000)
    sf.write(root / "tone.wav", tone.astype(np.float32), 48000)
    return root, video, [t.track_id for t in analysis.tracks]


def run_clip(capsys, root: Path, video: Path, name: str, *extra: str) -> dict:
    assert main(["clip", str(video), "-o", str(root / f"{name}.wav"), *BASE, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_an_edited_tracks_file_replaces_the_analysis(scene, capsys):
    root, video, analysed_ids = scene
    out = run_clip(capsys, root, video, "edited", "--tracks", str(root / "edited.json"))
    ids = [o["track_id"] for o in out["objects"]]
    assert 99 in ids and set(analysed_ids[:3]) <= set(ids)  # the invented object sounds, beside the analysed ones
    person = next(o for o in out["objects"] if o["track_id"] == 99)
    assert person["class"] == "person" and person["provenance"] == {"voice": "steps", "seed": 3}
    assert all(p["pan"] < -0.5 for p in person["trajectory"][1:-1])  # where the file put it: on the left


def test_include_and_exclude_by_id_and_class(scene, capsys):
    root, video, analysed_ids = scene
    edited = ["--tracks", str(root / "edited.json")]
    without = run_clip(capsys, root, video, "without", *edited, "--exclude", "99")
    assert 99 not in [o["track_id"] for o in without["objects"]] and without["objects"]
    only = run_clip(capsys, root, video, "only", *edited, "--include", "person")
    assert [o["track_id"] for o in only["objects"]] == [99]
    neither = run_clip(capsys, root, video, "neither", *edited, "--include", "PERSON", "--exclude", "99")
    assert neither["objects"] == []


def test_a_users_sound_file_is_the_objects_sound_and_is_recorded(scene, capsys):
    root, video, _ = scene
    out = run_clip(capsys, root, video, "sound", "--tracks", str(root / "edited.json"), "--include", "99",
                   "--sound", f"99={root / 'tone.wav'}")
    (obj,) = out["objects"]
    assert obj["source"] == "sound" and obj["provenance"]["file"] == str((root / "tone.wav").resolve())
    stem = sf.read(obj["source_wav"])[0]
    spectrum = np.abs(np.fft.rfft(stem))
    assert abs(np.argmax(spectrum) * 48000 / stem.size - TONE_HZ) < 2.0  # the stem is the tone


def test_a_toml_sound_map_by_class(scene, capsys, tmp_path):
    root, video, _ = scene
    (tmp_path / "sounds.toml").write_text('[sounds]\nperson = "tone.wav"\n')
    (tmp_path / "tone.wav").write_bytes((root / "tone.wav").read_bytes())
    out = run_clip(capsys, root, video, "toml", "--tracks", str(root / "edited.json"), "--sounds",
                   str(tmp_path / "sounds.toml"))
    chosen = {o["track_id"]: o for o in out["objects"]}
    assert chosen[99]["provenance"]["file"] == str((tmp_path / "tone.wav").resolve())
    assert all(o["source"] == "synth" and "voice" in o["provenance"] for k, o in chosen.items() if k != 99)


def test_library_provenance_names_the_file(scene, capsys, tmp_path):
    root, video, _ = scene
    library = tmp_path / "lib"
    library.mkdir()
    (library / "VEHCar_engine idle.wav").write_bytes((root / "tone.wav").read_bytes())
    out = run_clip(capsys, root, video, "library", "--sources", "library", "--library", str(library))
    assert out["objects"] and all(o["provenance"]["file"] == str(library / "VEHCar_engine idle.wav")
                                  and o["provenance"]["seed"] == 3 for o in out["objects"])


def test_bad_corrections_are_one_line_errors(scene, tmp_path, capsys):
    root, video, _ = scene
    with pytest.raises(MediaNotFound, match="sound file not found"):
        RenderOptions(sounds=("3=/no/such.wav",))
    with pytest.raises(InvalidParameter, match="ID=FILE"):
        RenderOptions(sounds=("tone.wav",))
    other = tmp_path / "other.mp4"
    other.write_bytes(video.read_bytes())
    assert main(["clip", str(other), "-o", str(tmp_path / "x.wav"), *BASE, "--tracks", str(root / "edited.json")]) == 1
    err = capsys.readouterr().err
    assert "none describes other.mp4" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_jobs_take_the_same_options(scene, tmp_path):
    root, _, _ = scene
    options = _parse_options({"tracks": [str(root / "edited.json")], "include": ["99"], "exclude": ["car"],
                              "sounds": [f"99={root / 'tone.wav'}"], "loudness_scope": "clip"})
    assert options.tracks == (str(root / "edited.json"),) and options.include == ("99",)
    assert options.sounds == (f"99={root / 'tone.wav'}",) and options.loudness_scope == "clip"
    from stereofoley.errors import PathNotAllowed

    with pytest.raises(PathNotAllowed, match="outside the allowed roots"):
        _parse_options({"sounds": [f"99={root / 'tone.wav'}"]}, roots=[tmp_path / "elsewhere"])
