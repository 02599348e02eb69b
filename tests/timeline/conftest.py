"""Fixtures for the timeline tests: the shared real timelines (tests/data/timelines), tiny generated media,
and a recording clip renderer that returns position-coded audio so trimming and placement can be checked
to the sample."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from stereofoley.spatial.mix import SoundObject
from stereofoley.timeline import picture_clips
from stereofoley.usecases.clip import ClipMix
from stereofoley.timeline.media import file_offset_s
from stereofoley.spatial.trajectory import Trajectory

DATA = Path(__file__).resolve().parents[1] / "data" / "timelines"


def make_video(path: Path, fps: Fraction, n_frames: int, size: tuple[int, int] = (32, 24)) -> Path:
    """A tiny video whose frame k is uniformly grey level (k % 256), so decoded frames identify their time."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for k in range(n_frames):
            img = np.full((size[1], size[0], 3), k % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def media_for(timeline: otio.schema.Timeline, folder: Path, *, rename=lambda clip, raw: raw) -> dict[str, Path]:
    """Generate every file the timeline's video clips need, long enough for each clip with its handles,
    named as the timeline names them (basename), at the clip's media rate."""
    from stereofoley.timeline.media import reference_path

    need: dict[str, tuple[Fraction, float]] = {}
    for c in picture_clips(timeline):
        raw = reference_path(c.clip.media_reference)
        if raw is None:
            continue
        name = rename(c.clip, raw.replace("\\", "/").rsplit("/", 1)[-1])
        end = c.media_range_s(with_handles=True)[1] - file_offset_s(c.clip)
        rate = c.clip.media_reference.available_range.duration.rate if c.clip.media_reference.available_range else c.clip.trimmed_range().duration.rate
        old = need.get(name, (Fraction(0), rate))
        need[name] = (max(old[0], end), rate)
    made = {}
    for name, (end_s, rate) in need.items():
        fps = Fraction(rate).limit_denominator(1001)
        made[name] = make_video(folder / name, fps, int(end_s * fps) + 2)
    return made


class RecordingRenderer:
    """A clip renderer that records each request and returns audio coding its own sample positions:
    left = sample index within the request / 2**20, right = a constant per clip; one object panning
    linearly from -0.5 to +0.5 over the request."""

    def __init__(self, fail_ids=()):
        self.requests = []
        self.fail_ids = set(fail_ids)

    def __call__(self, request, options=None, progress=None):
        from stereofoley.errors import InvalidAudio

        self.requests.append(request)
        if request.clip_id in self.fail_ids:
            raise InvalidAudio(f"simulated analysis failure for {request.clip_id}")
        n = request.n_samples
        idx = np.arange(n, dtype=np.float64)
        stereo = np.stack([idx / 2**20, np.full(n, 0.25)]).astype(np.float32)
        duration = n / 48000
        trajectory = Trajectory(times_s=np.linspace(0, duration, 11), pan=np.linspace(-0.5, 0.5, 11),
                                distance_m=np.linspace(2, 4, 11), gain_db=np.zeros(11))
        source = np.sin(2 * np.pi * 440 * idx / 48000).astype(np.float32) * 0.1
        return ClipMix(stereo=stereo, objects=(SoundObject("car 1", source, trajectory, class_name="car"),))

    def by_id(self):
        return {r.clip_id: r for r in self.requests}


@pytest.fixture
def timelines(tmp_path):
    """Writable copies of the shared timelines."""
    target = tmp_path / "timelines"
    shutil.copytree(DATA, target)
    return target


def relink_missing(timeline: otio.schema.Timeline, folder: Path) -> None:
    """Give clips without media (MissingReference) an ExternalReference to '<clip name>.mov' in folder,
    keeping every range; the timeline's structure is untouched."""
    for clip in timeline.find_clips():
        if isinstance(clip.media_reference, otio.schema.MissingReference):
            name = clip.name.replace(" ", "_") + ".mov"
            clip.media_reference = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(folder / name)))
