"""A `render --overwrite` of an edit that was analysed before is served from the analysis cache: the detector
is not run again (counted), and the WAVs come out identical."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio

from stereofoley.cli import main
from stereofoley.evaluation import synthetic
from stereofoley.vision.motion import MotionDetector


def test_rerender_is_served_from_the_cache(tmp_path, monkeypatch):
    video = tmp_path / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0, width=96, height=54, fps=Fraction(25)), video)
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for start, frames in ((0, 25), (25, 25)):  # two clips of the same shot
        span = otio.opentime.TimeRange(otio.opentime.RationalTime(start, 25), otio.opentime.RationalTime(frames, 25))
        track.append(otio.schema.Clip(name=f"car{start}", source_range=span, media_reference=otio.schema.ExternalReference(
            target_url=otio.url_utils.url_from_filepath(str(video)))))
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(tracks=[track]), str(edit))

    calls = []
    real_detect = MotionDetector.detect
    monkeypatch.setattr(MotionDetector, "detect", lambda self, image: calls.append(1) or real_detect(self, image))
    argv = ["render", str(edit), "-o", str(tmp_path / "out"), "--detector", "motion", "--cache-dir", str(tmp_path / "cache"),
            "--quiet"]
    assert main(argv) == 0
    first_calls = len(calls)
    wavs = sorted((tmp_path / "out").glob("*_*.wav"))
    before = {p.name: p.read_bytes() for p in wavs}
    assert first_calls > 10 and len(before) >= 2
    assert main(argv + ["--overwrite"]) == 0
    assert len(calls) == first_calls  # not one detector call the second time
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "out").glob("*_*.wav"))} == before
