"""The --sources/--library options, and sources end to end through the clip use case on a generated video."""

from __future__ import annotations

import argparse
import json
import types

import numpy as np
import pytest
import soundfile as sf

from stereofoley.evaluation import synthetic
from stereofoley.commands.common import add_render_arguments, render_options_from_args
from stereofoley.sources import integrated_lufs, normalize, true_peak_level
from stereofoley.errors import InvalidParameter
from stereofoley.options import RenderOptions
from stereofoley.usecases.clip import render_media, request_for_media, source_for_request

from .conftest import SR, dominant_hz, make_track, tone


def parser():
    p = argparse.ArgumentParser(prog="stereofoley clip")
    add_render_arguments(p)
    return p


def source_for_from_args(args, media_path=None):
    """The clip use case's source provider for the options these flags describe (None for 'neutral')."""
    options = render_options_from_args(args)
    if options.neutral:
        return None
    if media_path is None:
        return source_for_request(types.SimpleNamespace(media_path=None, media_start_s=0.0), options)
    return source_for_request(request_for_media(media_path), options)


def loudness_from_args(args):
    options = render_options_from_args(args)
    return None if options.loudness_lufs is None else {"target_lufs": options.loudness_lufs,
                                                       "true_peak_dbtp": options.true_peak_dbtp}


def apply_loudness(stereo, args):
    kwargs = loudness_from_args(args)
    return stereo if kwargs is None else normalize(stereo, **kwargs)


def test_source_arguments_parse_and_build(tmp_path, mini_library, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    args = parser().parse_args(["--sources", "library,synth", "--library", str(mini_library), "--library", str(mini_library / "vehicles"), "--seed", "4", "--follow", "2"])
    assert args.library == [str(mini_library), str(mini_library / "vehicles")] and args.follow == 2 and args.seed == 4
    source_for = source_for_from_args(args)
    assert abs(dominant_hz(source_for(make_track("car"), SR)) - 300.0) < 2.0
    assert list((tmp_path / "xdg" / "stereofoley" / "library-index").glob("*.json"))  # the default cache location
    assert loudness_from_args(args) == {"target_lufs": -23.0, "true_peak_dbtp": -1.0}
    assert loudness_from_args(parser().parse_args(["--no-loudness"])) is None
    assert parser().parse_args(["--follow", "car"]).follow == "car"
    neutral = parser().parse_args(["--sources", "Neutral"])
    assert neutral.sources == "neutral" and source_for_from_args(neutral) is None  # render_clip's default source
    loud = np.stack([tone(700.0, 1.0)] * 2)
    assert integrated_lufs(apply_loudness(loud, args)) == pytest.approx(-23.0, abs=0.1)
    np.testing.assert_array_equal(apply_loudness(loud, parser().parse_args(["--no-loudness"])), loud)


@pytest.mark.parametrize("spec", ["magic", "synth,synth", "generator:", "library;synth"])
def test_bad_source_spec_is_a_usage_error(spec, capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["--sources", spec])
    assert exc.value.code == 2
    assert "--sources" in capsys.readouterr().err


def test_library_without_folder_is_an_error(capsys):
    with pytest.raises(InvalidParameter, match="needs at least one folder in libraries"):
        source_for_from_args(parser().parse_args(["--sources", "library"]))
    from stereofoley.cli import main

    assert main(["clip", "v.mp4", "-o", "x.wav", "--sources", "library"]) == 1
    assert "needs at least one folder in --library" in capsys.readouterr().err  # the CLI names its flag


def test_one_file_library_is_placed_by_render_clip(tmp_path):
    """The acceptance path of `stereofoley clip VIDEO --sources library --library DIR`, below the CLI layer."""
    video = tmp_path / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0), video)
    library = tmp_path / "lib"
    library.mkdir()
    sf.write(str(library / "my sound.wav"), tone(523.0, 0.4), SR)
    args = parser().parse_args(["--sources", "library", "--library", str(library)])
    source_for = source_for_from_args(args, media_path=video)
    clip = render_media(video, source_for=source_for, options=RenderOptions(cache_dir=str(tmp_path / "vision-cache")))
    assert clip.stereo.shape == (2, 2 * SR) and clip.objects
    assert set(source_for.choices.values()) == {"library"}
    assert abs(dominant_hz(clip.stereo) - 523.0) < 2.0  # the file's spectrum survives in the output
    mix = normalize(clip.stereo, **loudness_from_args(args))
    assert integrated_lufs(mix) == pytest.approx(-23.0, abs=1.0) and true_peak_level(mix) <= -0.95


def test_real_object_track_from_vision():
    from stereofoley.vision import ObjectTrack

    t = np.linspace(0.0, 2.0, 21)
    x = np.linspace(0.2, 0.8, t.size)
    track = ObjectTrack(
        track_id=7, class_name="car", sounding=True, times_s=t,
        xyxy_norm=np.stack([x - 0.1, np.full_like(x, 0.5), x + 0.1, np.full_like(x, 0.7)], axis=1),
        confidence=np.ones_like(t), x_norm=x, azimuth_deg=(x - 0.5) * 60, distance_m=np.full_like(t, 10.0),
        salience=0.8, hfov_deg=90.0,
    )
    from stereofoley.sources import make_source_for
    from stereofoley.sources.motion import motion_of

    sound = make_source_for("synth")(track, 2 * SR)
    assert sound.shape == (2 * SR,) and np.isfinite(sound).all() and np.max(np.abs(sound)) > 1e-3
    # The track's own field of view sets the speed estimate: 0.3/s of a 20 m wide frame (90° at 10 m) = 6 m/s.
    motion = motion_of(track, 2 * SR, hfov_deg=track.hfov_deg)
    assert np.median(motion.speed_m_s) == pytest.approx(6.0, rel=0.02)
    from stereofoley.sources import synth
    from stereofoley.sources.factory import track_rng

    np.testing.assert_array_equal(sound, synth.synth_source("car", motion, track_rng(0, track)))  # the chain used it


@pytest.fixture
def car_video(tmp_path):
    video = tmp_path / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0), video)
    return video


def test_clip_command_places_a_one_file_library(car_video, tmp_path, capsys, monkeypatch):
    from stereofoley.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    library = tmp_path / "lib"
    library.mkdir()
    sf.write(str(library / "my sound.wav"), tone(523.0, 0.4), SR)
    out = tmp_path / "out.wav"
    code = main(["clip", str(car_video), "-o", str(out), "--detector", "motion", "--no-cache", "--json",
                 "--sources", "library", "--library", str(library)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sources"] == "library" and {o["source"] for o in summary["objects"]} == {"library"}
    audio, rate = sf.read(str(out), always_2d=True)
    assert rate == SR and audio.shape == (2 * SR, 2)
    assert abs(dominant_hz(audio.T) - 523.0) < 2.0  # that file's spectrum survives in the output
    assert integrated_lufs(audio.T) == pytest.approx(-23.0, abs=1.0) and summary["loudness_lufs"] == pytest.approx(-23.0, abs=1.0)
    assert true_peak_level(audio.T) <= -0.95


@pytest.mark.parametrize("extra, message", [
    (["--sources", "library", "--library", "EMPTY"], "holds no usable audio files"),
    (["--sources", "generator:nan-test"], "NaN/inf"),
    (["--sources", "clip-audio"], "no audio stream"),
])
def test_clip_command_bad_sources_fail_cleanly(car_video, tmp_path, capsys, test_generators, extra, message):
    from stereofoley.cli import main

    (tmp_path / "EMPTY").mkdir()
    extra = [str(tmp_path / "EMPTY") if e == "EMPTY" else e for e in extra]
    out = tmp_path / "out.wav"
    assert main(["clip", str(car_video), "-o", str(out), "--detector", "motion", "--no-cache", *extra]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out.wav*"))  # nothing written, no temp left


def test_clip_command_with_fallback_and_synth(car_video, tmp_path, capsys, test_generators):
    from stereofoley.cli import main

    out = tmp_path / "out.wav"
    assert main(["clip", str(car_video), "-o", str(out), "--detector", "motion", "--no-cache", "--json",
                 "--sources", "generator:raise-test,synth", "--loudness-lufs", "-20"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {o["source"] for o in summary["objects"]} == {"synth"}
    audio, _ = sf.read(str(out), always_2d=True)
    assert np.isfinite(audio).all() and integrated_lufs(audio.T) == pytest.approx(-20.0, abs=1.0)


def test_bad_loudness_options_fail_before_rendering(car_video, tmp_path, capsys, monkeypatch):
    from stereofoley.cli import main
    from stereofoley.usecases import clip

    monkeypatch.setattr(clip, "analyze_video", lambda *a, **k: pytest.fail("analysed before checking options"))
    out = tmp_path / "out.wav"
    assert main(["clip", str(car_video), "-o", str(out), "--loudness-lufs", "6"]) == 1
    assert "target_lufs=6.0 is outside [-70, 0] LUFS" in capsys.readouterr().err
    assert main(["clip", str(car_video), "-o", str(out), "--sources", "clip-audio"]) == 1
    assert "no audio stream" in capsys.readouterr().err
    assert not out.exists()


def test_render_command_uses_the_library_and_normalises_each_clip(car_video, tmp_path, capsys):
    import opentimelineio as otio

    from stereofoley.cli import main

    library = tmp_path / "lib"
    library.mkdir()
    sf.write(str(library / "VEHCar_Hum_JD_Lib.wav"), tone(523.0, 0.4), SR)
    rate = 25
    clip = otio.schema.Clip(
        name="car", media_reference=otio.schema.ExternalReference(target_url=str(car_video)),
        source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(2 * rate, rate)),
    )
    timeline = otio.schema.Timeline(name="tl")
    track = otio.schema.Track(kind="Video")
    track.append(clip)
    timeline.tracks.append(track)
    path = tmp_path / "tl.otio"
    otio.adapters.write_to_file(timeline, str(path))
    code = main(["render", str(path), "-o", str(tmp_path / "out"), "--detector", "motion", "--json",
                 "--sources", "library", "--library", str(library), "--loudness-lufs", "-20"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and len(report["clips"]) == 1
    audio, rate_hz = sf.read(report["clips"][0]["wav"], always_2d=True)
    assert rate_hz == SR and abs(dominant_hz(audio.T) - 523.0) < 2.0
    assert integrated_lufs(audio.T) == pytest.approx(-20.0, abs=1.0) and true_peak_level(audio.T) <= -0.95
    assert main(["render", str(path), "-o", str(tmp_path / "out2"), "--true-peak-dbtp", "3"]) == 1
    assert "--true-peak-dbtp 3.0 is outside" in capsys.readouterr().err  # the library names true_peak_dbtp=; the CLI its flag
