"""The class vocabulary: built-in COCO table, synonyms, a user file every provider and the distance honour, and one
notice for unmapped classes (issue 12, part 2)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from stereofoley.errors import InvalidParameter, MediaNotFound
from stereofoley.vision.scene import allocate_voices
from stereofoley.sources import make_source_for, synth
from stereofoley.sources.factory import track_rng
from stereofoley.sources.generator import prompt_for
from stereofoley.sources.library import load_class_map
from stereofoley.sources.motion import motion_of, voice_for_class
from stereofoley.vocabulary import builtin_vocabulary, load_vocabulary
from stereofoley.vision.placement import build_track

from .conftest import SR

COCO_NAMES = (  # the 80 classes of COCO, in the order ultralytics numbers them
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)


def box_track(class_name, h=0.3, track_id=1):
    t = np.round(np.arange(0.0, 2.0 + 1e-9, 0.1), 6)
    x = np.linspace(0.3, 0.6, t.size)
    boxes = np.stack([x - 0.05, np.full_like(x, 0.5 - h / 2), x + 0.05, np.full_like(x, 0.5 + h / 2)], axis=1)
    return build_track(track_id, class_name, t, boxes, np.full(t.size, 0.9), frame_times_s=t, shot_span_s=(0, 2), aspect=16 / 9)


def test_builtin_table_covers_coco_with_sizes_and_voices():
    vocab = builtin_vocabulary()
    assert len(set(COCO_NAMES)) == 80 and vocab.unmapped(COCO_NAMES + ("object",)) == []
    assert vocab.height_m("person") == 1.7 and vocab.height_m("car") == 1.5 and vocab.height_m("bus") == 3.2
    assert [vocab.voice(n) for n in ("person", "car", "dog", "bird", "object")] == ["steps", "engine", "animal", "birds", "whoosh"]
    assert not vocab.sounding("chair") and vocab.sounding("dog")


@pytest.mark.parametrize("name, coco", [("pedestrian", "person"), ("People", "person"), ("human", "person"),
                                        ("vehicle", "car"), ("automobile", "car"), ("bike", "bicycle"),
                                        ("motorbike", "motorcycle"), ("lorry", "truck"), ("puppy", "dog")])
def test_synonyms_get_everything_their_class_has(name, coco):
    vocab = builtin_vocabulary()
    a, b = vocab.category(name), vocab.category(coco)
    assert (a.voice, a.height_m, a.sounding, a.cat_ids, a.kind) == (b.voice, b.height_m, b.sounding, b.cat_ids, b.kind)
    assert load_class_map()[name.lower()] == load_class_map()[coco]
    # the distance estimate uses the same size: the same box gives the same distance
    np.testing.assert_allclose(box_track(name).distance_m, box_track(coco).distance_m)


@pytest.fixture
def user_map(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text(
        '[wagon]\nsame_as = "truck"\nheight_m = 2.5\n'
        '[hiker-7]\nvoice = "steps"\nheight_m = 1.8\nprompt = "boots on gravel, {pace}"\nkeywords = ["gravel"]\n'
        '[car]\ncat_ids = ["VEHTruck"]\n'
        '[oven]\nvoice = "engine"\n'
    )
    return path


def test_user_file_adds_and_overrides(user_map):
    vocab = load_vocabulary(user_map)
    wagon = vocab.category("wagon")
    assert (wagon.voice, wagon.height_m, wagon.kind, wagon.cat_ids) == ("engine", 2.5, "truck", ("VEHTruck",))
    assert vocab.category("car").cat_ids == ("VEHTruck",) and vocab.category("car").height_m == 1.5  # rest kept
    assert vocab.sounding("oven") and vocab.voice("oven") == "engine"
    assert vocab.unmapped(["wagon", "hiker-7", "zzz"]) == ["zzz"]


def test_every_provider_and_the_distance_honour_the_user_file(user_map):
    vocab = load_vocabulary(user_map)
    hiker = box_track("hiker-7", h=0.3)
    n = 2 * SR
    # synth: footsteps, exactly the person voice
    chain = make_source_for("synth", class_map=user_map)
    assert chain.vocabulary.voice("hiker-7") == "steps" and voice_for_class("hiker-7", chain.vocabulary) == "steps"
    np.testing.assert_array_equal(chain(hiker, n), synth.synth_source("person", motion_of(hiker, n), track_rng(0, hiker)))
    # library: the user's keywords; generator: the user's prompt
    assert load_class_map(user_map)["hiker-7"].keywords == ("gravel",)
    assert prompt_for("hiker-7", motion_of(hiker, n), vocab) == "boots on gravel, moving slowly"
    assert prompt_for("car", motion_of(box_track("car"), n)) == "a car engine, moving slowly"
    # distance: 1.8 m instead of the unmapped 1 m, through the voice allocation the pipeline runs
    plain = allocate_voices([hiker], 1, vocabulary=None).objects[0].track
    mapped = allocate_voices([hiker], 1, vocabulary=vocab).objects[0].track
    np.testing.assert_allclose(mapped.distance_m, plain.distance_m * 1.8)
    assert mapped.sounding and not plain.sounding


@pytest.mark.parametrize("text, match", [
    ('[car]\nvoice = "meow"\n', "car.voice='meow' is not one of"),
    ('[car]\nheight_m = -1\n', r"car.height_m=-1 must be a number"),
    ('[car]\ncat_ids = "VEHCar"\n', "car.cat_ids must be a list of strings"),
    ('[tractor]\nsame_as = "spaceship"\n', "tractor.same_as='spaceship' is not a known class"),
    ('[car]\nloudness = 3\n', "unknown: loudness"),
    ("[car\n", "not valid TOML"),
])
def test_bad_user_files_are_one_line_errors_naming_the_file(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidParameter, match=match) as info:
        load_vocabulary(path)
    assert "bad.toml" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(MediaNotFound, match="missing.toml"):
        load_vocabulary(tmp_path / "missing.toml")


def test_unmapped_classes_get_one_notice(caplog):
    vocab = load_vocabulary(None)  # a fresh vocabulary: nothing reported yet
    tracks = [box_track("zorblax", track_id=1), box_track("quux", track_id=2), box_track("zorblax", track_id=3)]
    with caplog.at_level(logging.WARNING, logger="stereofoley.vocabulary"):
        allocate_voices(tracks, 4, vocabulary=vocab)
        allocate_voices(tracks, 4, vocabulary=vocab)  # a second clip: no repeat
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 1
    assert "quux, zorblax" in notices[0] and "--class-map" in notices[0] and "same_as" in notices[0]
    # and what they get: the whoosh and a 1 m size
    assert vocab.voice("zorblax") == "whoosh" and vocab.height_m("zorblax") == 1.0
