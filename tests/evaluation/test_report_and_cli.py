"""report: PNGs and MP4s that decode, with the right duration and a 48 kHz stereo stream; score and
synth-dataset from the command line."""

import json

import av
import matplotlib.image
import numpy as np
import pytest

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.audio import write_wav
from stereofoley.spatial.automation import curves_for
from stereofoley.cli import main
from stereofoley.config import preset
from stereofoley.evaluation.dataset import ItemConfig, build_dataset
from stereofoley.spatial.mix import SoundObject, render_mix
from stereofoley.evaluation.report import write_report
from stereofoley.spatial.trajectory import Trajectory, pan_from_x

DURATION_S = 1.6


def _streams(path):
    """(video frames, video duration s, audio rate, audio channels, decoded audio seconds)."""
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        v = container.streams.video[0]
        v_dur = float(v.duration * v.time_base)
    with av.open(str(path)) as container:
        a = container.streams.audio[0]
        rate, channels = a.codec_context.sample_rate, a.codec_context.channels
        samples = sum(f.samples for f in container.decode(audio=0))
    return frames, v_dur, rate, channels, samples / rate


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    build_dataset(2, root, seed=11, config=ItemConfig(duration_s=DURATION_S, width=128, height=72), scheduler="serial")
    return root


def test_report_of_a_dataset(dataset):
    summary = write_report(dataset)
    assert len(summary["clips"]) == 2
    index = (dataset / "report/index.html").read_text()
    for clip in summary["clips"]:
        png = matplotlib.image.imread(clip["plot"])
        assert png.shape[:2] == (700, 900) and png.std() > 0.01  # a real picture, not a blank canvas
        frames, v_dur, rate, channels, a_dur = _streams(clip["preview"])
        assert frames == round(DURATION_S * 25)
        assert v_dur == pytest.approx(DURATION_S, abs=1 / 25)
        assert (rate, channels) == (48000, 2)
        assert a_dur == pytest.approx(DURATION_S, abs=0.05)  # AAC pads to whole 1024-sample frames
        assert f'src="{clip["id"]}.preview.mp4"' in index and f'src="{clip["id"]}.png"' in index


def test_preview_shows_the_boxes_where_the_truth_says(dataset):
    clip = write_report(dataset, dataset / "again")["clips"][0]
    truth = json.loads((dataset / "items" / clip["id"] / "truth.json").read_text())
    boxes = truth["objects"][0]["frames"]["xyxy_norm"]  # object 1 is drawn in #1f77b4 (BGR 180, 119, 31)
    k = next(i for i, b in enumerate(boxes) if b[0] is not None and 0.05 < b[0] and b[2] < 0.95)
    with av.open(clip["preview"]) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == k).to_ndarray(format="bgr24")
    h, w = frame.shape[:2]
    x0, y_mid = int(round(boxes[k][0] * w)), int(round((boxes[k][1] + boxes[k][3]) / 2 * h))
    edge = frame[y_mid - 1 : y_mid + 2, x0 - 1 : x0 + 2].reshape(-1, 3).astype(int)
    assert np.min(np.abs(edge - [180, 119, 31]).sum(axis=1)) < 90


def test_report_of_a_timeline_style_result_without_picture(tmp_path):
    traj = Trajectory(times_s=[0.0, 1.0], pan=[-0.8, 0.8], distance_m=[2.0, 2.0], gain_db=[0.0, 0.0])
    noise = (0.1 * np.random.default_rng(0).standard_normal(SAMPLE_RATE_HZ)).astype(np.float32)
    write_wav(tmp_path / "clip1.wav", render_mix([SoundObject("a", noise, traj)], preset("dry"), SAMPLE_RATE_HZ))
    curves = {k: c.to_json() for k, c in curves_for(traj, preset("dry")).items()}
    report = {"ok": True, "clips": [{"id": "c1", "name": "Clip 1", "wav": "clip1.wav", "objects": [{"name": "a", "class": "car", "curves": curves}]}]}
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert main(["report", str(tmp_path), "--json"]) == 0
    frames, v_dur, rate, channels, a_dur = _streams(tmp_path / "report/c1.preview.mp4")
    assert (frames, rate, channels) == (25, 48000, 2)
    assert main(["report", str(tmp_path)]) == 1  # the report exists: nothing is overwritten without --overwrite
    assert main(["report", str(tmp_path / "nothing-here")]) == 1


def test_score_command_from_tracking_and_from_tracks_json(tmp_path, capsys):
    from stereofoley.evaluation.synthetic import passing_vehicle, write_video
    from stereofoley.vision import analyze_video, write_tracks

    video = tmp_path / "car.mp4"
    truth = write_video(passing_vehicle(duration_s=2.0, width=192, height=108), video)
    settings = preset("dry")
    car = truth.objects[0]
    x = np.clip(car.x_norm, -0.5, 1.5)
    traj = Trajectory(times_s=truth.frame_times_s, pan=pan_from_x(x, settings), distance_m=np.full(x.size, 3.0), gain_db=np.zeros(x.size))
    noise = (0.1 * np.random.default_rng(1).standard_normal(2 * SAMPLE_RATE_HZ)).astype(np.float32)
    stereo = render_mix([SoundObject("car", noise, traj)], settings, 2 * SAMPLE_RATE_HZ)
    wav = write_wav(tmp_path / "car.wav", stereo)
    mono = write_wav(tmp_path / "mono.wav", np.vstack([stereo.mean(axis=0)] * 2))
    swapped = write_wav(tmp_path / "swapped.wav", stereo[::-1])

    def score(*args):
        capsys.readouterr()
        assert main(["score", *map(str, args), "--json", "--preset", "dry"]) == 0
        return json.loads(capsys.readouterr().out)

    ours = score(video, wav, "--detector", "motion")
    assert ours["position_correlation"] >= 0.95 and ours["direction_agreement"] >= 0.95
    assert ours["position_mae_deg"] < 5.0
    summed = score(video, mono, "--detector", "motion")
    assert summed["is_near_mono"] and abs(summed["position_correlation"]) <= 0.1
    assert score(video, swapped, "--detector", "motion")["position_correlation"] < -0.9

    tracks = write_tracks(analyze_video(video, detector="motion"), tmp_path / "tracks.json")
    from_file = score(video, wav, "--tracks", tracks)
    assert from_file["position_correlation"] == pytest.approx(ours["position_correlation"], abs=1e-9)
    assert main(["score", str(tmp_path / "missing.mp4"), str(wav)]) == 1


def test_synth_dataset_command(tmp_path, capsys):
    out = tmp_path / "ds"
    args = ["synth-dataset", "--n", "1", "--out", str(out), "--seed", "4", "--duration-s", "1", "--size", "96x64",
            "--scheduler", "serial", "--json"]
    assert main(args) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["seed"] == 4 and len(manifest["items"]) == 1
    assert (out / manifest["items"][0]["mix"]).is_file()
    assert main(args) == 1  # refuses to overwrite
    assert main(["synth-dataset", "--out", str(tmp_path / "x"), "--video", "a.mp4"]) == 1  # unpaired --video


def test_a_broken_dataset_is_a_named_error(tmp_path, capsys):
    """A manifest or truth file that is missing or does not parse: exit 1 with one line naming the file."""
    (tmp_path / "manifest.json").write_text("{bad")
    assert main(["report", str(tmp_path)]) == 1
    assert f"{tmp_path / 'manifest.json'} is not valid JSON" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text(json.dumps({"items": [{"id": "1", "truth": "t.json", "mix": "m.wav", "video": "v.mp4"}]}))
    assert main(["report", str(tmp_path)]) == 1
    assert f"dataset file not found: {tmp_path / 't.json'}" in capsys.readouterr().err
