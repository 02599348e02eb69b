"""Generated videos (one per scene and variant, made once per session) and their analyses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stereofoley.evaluation import synthetic
from stereofoley.vision import analyze_video

sys.path.insert(0, str(Path(__file__).parent))  # tiny_yolo, vision_scoring


@pytest.fixture(scope="session")
def scene_video(tmp_path_factory):
    """make(name, **scene overrides) -> (path, GroundTruth); each distinct video is written once."""
    folder = tmp_path_factory.mktemp("vision-media")
    made: dict = {}

    def make(name: str, **overrides):
        key = (name, tuple(sorted(overrides.items())))
        if key not in made:
            path = folder / f"{name}-{len(made)}.mp4"
            made[key] = (path, synthetic.write_video(synthetic.scene(name, **overrides), path))
        return made[key]

    return make


@pytest.fixture(scope="session")
def analysed(scene_video):
    """analyse(name, detector="motion", **overrides) -> (Analysis, GroundTruth), memoised per session."""
    done: dict = {}

    def analyse(name: str, detector: str = "motion", weights=None, **overrides):
        key = (name, detector, str(weights), tuple(sorted(overrides.items())))
        if key not in done:
            path, truth = scene_video(name, **overrides)
            done[key] = (analyze_video(path, detector=detector, weights=weights), truth)
        return done[key]

    return analyse
