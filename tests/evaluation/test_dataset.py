"""synth-dataset: items whose ground truth matches the audio, identical bytes per seed, Dask = serial."""

import json
from pathlib import Path

import av
import numpy as np
import pytest

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.audio import read_audio, write_wav
from stereofoley.evaluation.dataset import ItemConfig, build_dataset, build_from_videos, item_score, occluded_fraction
from stereofoley.errors import InvalidParameter, OutputExists
from stereofoley.spatial.trajectory import pan_from_x

CONFIG = ItemConfig(duration_s=2.0, width=160, height=96)
N = 3


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    root = tmp_path_factory.mktemp("serial")
    return root, build_dataset(N, root, seed=7, config=CONFIG, scheduler="serial")


def test_items_hold_video_sources_mix_and_truth_that_match(serial):
    root, manifest = serial
    assert [e["id"] for e in manifest["items"]] == ["00000", "00001", "00002"]
    assert json.loads((root / "manifest.json").read_text()) == manifest
    classes = set()
    for entry in manifest["items"]:
        truth = json.loads((root / entry["truth"]).read_text())
        mix, rate = read_audio(root / entry["mix"])
        assert (rate, mix.shape) == (SAMPLE_RATE_HZ, (2, 2 * SAMPLE_RATE_HZ))
        with av.open(str(root / entry["video"])) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == 50  # 2 s at 25 fps
        for obj in truth["objects"]:
            classes.add(obj["class_name"])
            src, src_rate = read_audio(root / obj["source"])
            assert (src_rate, src.shape) == (SAMPLE_RATE_HZ, (1, 2 * SAMPLE_RATE_HZ))
            frames_ = obj["frames"]
            assert len(frames_["pan"]) == 50
            boxes = np.array([[np.nan if v is None else v for v in b] for b in frames_["xyxy_norm"]])
            np.testing.assert_allclose(frames_["pan"], pan_from_x((boxes[:, 0] + boxes[:, 2]) / 2, CONFIG.settings), atol=1e-5)  # boxes are stored to 6 digits
        # The acceptance: the metric reads the ground truth back out of the mixture.
        score = item_score(root, entry)
        assert score.position_correlation >= 0.95, entry["id"]
        assert score.direction_agreement is None or score.direction_agreement >= 0.95
        assert score.position_mae_pan <= 0.05
    assert len(classes) >= 2


def test_same_seed_same_bytes_other_seed_other_bytes(serial, tmp_path):
    root, manifest = serial
    again = build_dataset(N, tmp_path / "again", seed=7, config=CONFIG, scheduler="serial")
    assert again == manifest
    assert _files(tmp_path / "again") == _files(root)
    # Item i depends on (seed, i) only: a smaller N gives a prefix of the same items.
    build_dataset(1, tmp_path / "one", seed=7, config=CONFIG, scheduler="serial")
    assert (tmp_path / "one/items/00000/mix.wav").read_bytes() == (root / "items/00000/mix.wav").read_bytes()
    other = build_dataset(1, tmp_path / "other", seed=8, config=CONFIG, scheduler="serial")
    assert other["items"][0]["sha256"] != manifest["items"][0]["sha256"]


def test_dask_local_cluster_makes_the_same_items(serial, tmp_path):
    root, manifest = serial
    seen = []
    dask_manifest = build_dataset(N, tmp_path / "dask", seed=7, config=CONFIG, scheduler=None, workers=2, processes=False,
                                  progress=lambda done, total: seen.append((done, total)))
    assert dask_manifest == manifest
    assert _files(tmp_path / "dask") == _files(root)
    assert seen[-1] == (N, N)


def test_refuses_to_overwrite_and_bad_n(serial):
    root, _ = serial
    with pytest.raises(OutputExists, match="manifest.json"):
        build_dataset(1, root, seed=7, config=CONFIG, scheduler="serial")
    with pytest.raises(InvalidParameter, match="n=0"):
        build_dataset(0, root / "x", scheduler="serial")


@pytest.mark.parametrize("kw, message", [({"width": 0, "height": 0}, "frame size 0x0"), ({"fps": 0}, "fps=0")])
def test_bad_item_config_is_named(kw, message):
    with pytest.raises(InvalidParameter, match=message):
        ItemConfig(**kw)


def test_a_local_cluster_needs_a_worker(tmp_path):
    with pytest.raises(InvalidParameter, match="workers=0"):
        build_dataset(1, tmp_path, config=CONFIG, workers=0)


def test_occluded_fraction_by_hand():
    back = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.5], [np.nan] * 4])
    front = np.array([[0.25, 0.0, 0.75, 0.5], [0.6, 0.6, 0.9, 0.9], [0.0, 0.0, 1.0, 1.0]])
    np.testing.assert_allclose(occluded_fraction(back, [front]), [0.5, 0.0, 0.0])


def test_from_videos_spatializes_the_tracked_object(tmp_path):
    from stereofoley.evaluation.synthetic import passing_vehicle, write_video

    video = tmp_path / "car.mp4"
    write_video(passing_vehicle(duration_s=2.0, width=192, height=108), video)
    noise = (0.1 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE_HZ)).astype(np.float32)
    audio = write_wav(tmp_path / "engine.wav", noise[None, :])
    manifest = build_from_videos([(video, audio)], tmp_path / "out", detector="motion", scheduler="serial")
    entry = manifest["items"][0]
    root = tmp_path / "out"
    assert (root / "items/00000/tracks.json").is_file()
    truth = json.loads((root / entry["truth"]).read_text())
    assert truth["origin"] == "tracking"
    pans = truth["objects"][0]["frames"]["pan"]
    assert pans[0] < -0.3 and pans[-1] > 0.3  # the car drives left to right
    score = item_score(root, entry)
    assert score.position_correlation >= 0.95
    assert score.direction_agreement >= 0.95
