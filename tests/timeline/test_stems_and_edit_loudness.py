"""Issue 12 parts 5 and 6 on generated scenes rendered through render_timeline (the path of `stereofoley render`
and timeline jobs): the default preset for the loudness tests, the "wet" preset (critical distance 20 m) for the
stems, so that the diffuse field is a real part of the mix:

- edit-wide loudness: the same object in a near shot and in a far shot at 4x the distance keeps its distance
  step between shots (>= 6 dB), where per-clip normalisation erases it;
- the stems plus their curves rebuild the mix within 1 dB per window, with ILD correlation >= 0.95: from the
  report JSON, from the OTIO metadata and from the RPP envelopes under a -3 dB constant-power pan law;
- every stem (objects and diffuse) carries the mix's BWF time reference.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import rpp
import soundfile as sf

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.audio import read_bwf_time_reference
from stereofoley.config import preset
from stereofoley.options import RenderOptions
from stereofoley.spatial.automation import Curve
from stereofoley.spatial.loudness import gated_lufs, loudness_blocks
from stereofoley.spatial.mix import SoundObject, render_parts
from stereofoley.spatial.rebuild import rebuild_mix, window_ild_db, window_levels_db
from stereofoley.spatial.trajectory import Trajectory
from stereofoley.timeline.output import foley_clips_in
from stereofoley.usecases.clip import ClipMix, neutral_source
from stereofoley.usecases.timeline import render_timeline
from stereofoley_adapters.rpp_adapter import PAN_ENVELOPE_SIGN

from conftest import make_video
from timeline_mixers import FixedMixer  # a module Dask workers can import whatever their sys.path order

RATE = 24
CLIP_FRAMES = 72  # 3 s a clip


def timeline_of(media: list[Path], name: str = "edit") -> otio.schema.Timeline:
    """One video track, the given media one after the other, each clip its media's first CLIP_FRAMES frames."""
    timeline = otio.schema.Timeline(name=name)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for k, path in enumerate(media):
        ref = otio.schema.ExternalReference(
            target_url=otio.url_utils.url_from_filepath(str(path)),
            available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, RATE),
                                                    otio.opentime.RationalTime(CLIP_FRAMES + 24, RATE)))
        track.append(otio.schema.Clip(name=f"shot{k + 1}", media_reference=ref,
                                      source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, RATE),
                                                                           otio.opentime.RationalTime(CLIP_FRAMES, RATE))))
    timeline.tracks.append(track)
    return timeline


class SceneMixer:
    """A clip mixer rendering a generated scene per media file (keyed by the media's stem), with the engine's
    own mixer (render_parts: stems and diffuse kept) and the pipeline's neutral pink-noise sources."""

    def __init__(self, scenes: dict[str, list[tuple[int, Trajectory]]]):
        self.scenes = scenes

    def __call__(self, request, options, progress=None):
        objects = []
        for track_id, trajectory in self.scenes[request.media_path.stem]:
            fake_track = type("T", (), {"track_id": track_id, "class_name": "car"})()
            objects.append(SoundObject(f"car-{track_id}", neutral_source(fake_track, request.n_samples), trajectory,
                                       class_name="car", track_id=track_id, provider="neutral"))
        parts = render_parts(objects, options.settings, request.n_samples)
        return ClipMix(parts.stereo, tuple(objects), None, "generated", stems=parts.stems, diffuse=parts.diffuse)


def render(tmp_path: Path, scenes, **options):
    media = [make_video(tmp_path / "media" / f"{name}.mp4", Fraction(RATE), CLIP_FRAMES + 24) for name in scenes]
    path = tmp_path / "edit.otio"
    otio.adapters.write_to_file(timeline_of(media), str(path))
    report = render_timeline(path, tmp_path / "out", options=RenderOptions(**options), mixer=SceneMixer(scenes))
    return report


def level_db(path: str) -> float:
    x = sf.read(path, always_2d=True)[0]
    return 10.0 * math.log10(float(np.mean(x**2)))


# ------------------------------------------------------------------------------------------- edit loudness
NEAR_M, FAR_M = 3.0, 12.0  # the same object, 4x the distance


def near_far_scenes():
    return {"near": [(1, Trajectory.constant(pan=0.3, distance_m=NEAR_M))],
            "far": [(1, Trajectory.constant(pan=0.3, distance_m=FAR_M))]}


def test_edit_loudness_keeps_the_distance_step_between_shots(tmp_path):
    report = render(tmp_path, near_far_scenes())
    near, far = report["clips"]
    step = level_db(near["wav"]) - level_db(far["wav"])
    assert step >= 6.0, step  # free field alone would give 12.0 dB; the diffuse field fills the far shot a little
    assert near["loudness_gain_db"] == far["loudness_gain_db"] == report["loudness"]["gain_db"]
    # the edit as a whole is at the target: the two mixes' gating blocks together
    blocks = np.concatenate([loudness_blocks(sf.read(c["wav"], always_2d=True)[0].T) for c in (near, far)])
    assert abs(gated_lufs(blocks) + 23.0) <= 0.1
    assert abs(report["loudness"]["lufs"] + 23.0) <= 0.1
    print(f"edit scope: near - far = {step:.2f} dB, edit {gated_lufs(blocks):.2f} LUFS")


def test_clip_scope_normalises_each_shot_alone(tmp_path):
    report = render(tmp_path, near_far_scenes(), loudness_scope="clip")
    near, far = report["clips"]
    step = level_db(near["wav"]) - level_db(far["wav"])
    assert abs(step) < 1.0, step  # what issue 12 measured: distance erased between shots
    assert abs(near["loudness_lufs"] + 23.0) <= 0.1 and abs(far["loudness_lufs"] + 23.0) <= 0.1
    assert report["loudness"]["scope"] == "clip"
    print(f"clip scope: near - far = {step:.2f} dB")


def test_loudness_scope_is_validated_and_reaches_the_cli():
    from stereofoley.cli import build_parser
    from stereofoley.commands.common import render_options_from_args
    from stereofoley.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="loudness_scope='shot'"):
        RenderOptions(loudness_scope="shot")
    assert RenderOptions.from_mapping({"loudness_scope": "clip"}).loudness_scope == "clip"
    args = build_parser().parse_args(["render", "t.otio", "-o", "out", "--loudness-scope", "clip"])
    assert render_options_from_args(args).loudness_scope == "clip"
    assert RenderOptions().loudness_scope == "edit"


# ------------------------------------------------------------------------------------------- stems rebuild
def moving_scenes():
    """Two shots: a car crossing left to right while approaching, a second one receding on the left; in the
    second shot one car passes right to left far away."""
    t = np.linspace(0.0, CLIP_FRAMES / RATE, 13)
    return {
        "cross": [(1, Trajectory(times_s=t, pan=np.linspace(-0.9, 0.9, 13), distance_m=np.linspace(15, 2.5, 13),
                                 gain_db=np.zeros(13))),
                  (2, Trajectory(times_s=t, pan=np.full(13, -0.6), distance_m=np.linspace(3, 10, 13),
                                 gain_db=np.zeros(13)))],
        "pass": [(3, Trajectory(times_s=t, pan=np.linspace(0.8, -0.8, 13), distance_m=np.full(13, 25.0),
                                gain_db=np.zeros(13)))],
    }


def compare(mix: np.ndarray, rebuilt: np.ndarray) -> tuple[float, float]:
    """(largest per-window level difference in dB over windows within 40 dB of the loudest, ILD correlation)."""
    a, b = window_levels_db(mix), window_levels_db(rebuilt)
    loud = a > np.max(a) - 40.0
    ild_a, ild_b = window_ild_db(mix)[loud], window_ild_db(rebuilt)[loud]
    return float(np.max(np.abs(a[loud] - b[loud]))), float(np.corrcoef(ild_a, ild_b)[0, 1])


def read(path: str) -> np.ndarray:
    return sf.read(path, dtype="float32", always_2d=True)[0].T


def rebuild_from_objects(objects: list[dict], diffuse_wav: str | None, n: int) -> np.ndarray:
    stems = [read(o["source_wav"])[0] for o in objects]
    pans = [Curve.from_json(o["curves"]["pan"]) for o in objects]
    gains = [Curve.from_json(o["curves"]["gain_db"]) for o in objects]
    return rebuild_mix(stems, pans, gains, n, diffuse=read(diffuse_wav) if diffuse_wav else None)


@pytest.fixture(scope="module")
def moving_render(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rebuild")
    return render(tmp, moving_scenes(), settings=preset("wet"))  # a diffuse field that matters in the mix


def test_stems_and_json_curves_rebuild_the_mix(moving_render):
    for clip in moving_render["clips"]:
        mix = read(clip["wav"])
        assert clip["diffuse_wav"]  # the natural preset's diffuse field is part of the mix: its own stem
        level_error, ild_r = compare(mix, rebuild_from_objects(clip["objects"], clip["diffuse_wav"], mix.shape[1]))
        print(f"{clip['name']}: JSON rebuild within {level_error:.3f} dB, ILD r = {ild_r:.4f}")
        assert level_error <= 1.0 and ild_r >= 0.95
        # without the diffuse stem the rebuild is short where the far objects are (what it would miss)
        dry_only = rebuild_from_objects(clip["objects"], None, mix.shape[1])
        assert compare(mix, dry_only)[0] > 1.0


def test_otio_metadata_carries_the_same_curves_and_stems(moving_render):
    timeline = otio.adapters.read_from_file(moving_render["timeline_out"])
    foley = {c.picture_id: c for c in foley_clips_in(timeline)}
    for clip in moving_render["clips"]:
        entry = foley[clip["id"]]
        data = entry.metadata
        assert data["diffuse_wav"] == clip["diffuse_wav"]
        mix = read(clip["wav"])
        level_error, ild_r = compare(mix, rebuild_from_objects(list(data["objects"]), data["diffuse_wav"], mix.shape[1]))
        assert level_error <= 1.0 and ild_r >= 0.95


def test_stems_carry_the_mix_time_reference(moving_render):
    for clip in moving_render["clips"]:
        reference = read_bwf_time_reference(clip["wav"])
        assert reference == clip["record_start_sample"]  # the timeline starts at 0
        stems = [o["source_wav"] for o in clip["objects"]] + [clip["diffuse_wav"]]
        assert [read_bwf_time_reference(p) for p in stems] == [reference] * len(stems)
        assert sf.info(clip["diffuse_wav"]).channels == 2
        assert all(sf.info(o["source_wav"]).channels == 1 for o in clip["objects"])


def _envelope_points(track, tag: str) -> np.ndarray:
    env = track.find(tag)
    return np.array([[float(p[1]), float(p[2])] for p in env if isinstance(p, list) and p[0] == "PT"])


def test_rpp_envelopes_rebuild_the_mix_under_reaper_pan_law(moving_render):
    """Read the written .rpp with the third-party `rpp` parser; per clip, take each object track's item
    (file, position) and its Volume/Pan envelope points (linear amplitude, REAPER pan sign), plus the diffuse
    track's item, and mix them as REAPER would with the object tracks' -3 dB constant-power pan law."""
    project = rpp.loads(Path(moving_render["outputs"]["rpp"]).read_text())
    tracks = {t.find("NAME")[1]: t for t in project.findall("TRACK")}
    objects = [t for name, t in tracks.items() if " object " in name]
    assert objects and all(float(t.find("VOLPAN")[4]) == pytest.approx(10 ** (-3.0103 / 20)) for t in objects)
    diffuse = next(t for name, t in tracks.items() if name.endswith("diffuse"))
    for clip in moving_render["clips"]:
        start, n = clip["record_start_s"], sf.info(clip["wav"]).frames
        stems, pans, gains = [], [], []
        for track in objects:
            items = [i for i in track.findall("ITEM") if abs(float(i.find("POSITION")[1]) - start) < 1e-6]
            if not items:
                continue
            stems.append(read(items[0].find("SOURCE").find("FILE")[1])[0])
            vol, pan = _envelope_points(track, "VOLENV2"), _envelope_points(track, "PANENV2")
            inside = lambda p: p[(p[:, 0] >= start - 1e-6) & (p[:, 0] <= start + n / SAMPLE_RATE_HZ + 1e-6)]
            vol, pan = inside(vol), inside(pan)
            gains.append(Curve(vol[:, 0] - start, 20.0 * np.log10(np.maximum(vol[:, 1], 1e-9))))
            pans.append(Curve(pan[:, 0] - start, pan[:, 1] * PAN_ENVELOPE_SIGN))
        assert len(stems) == len(clip["objects"])
        item = next(i for i in diffuse.findall("ITEM") if abs(float(i.find("POSITION")[1]) - start) < 1e-6)
        rebuilt = rebuild_mix(stems, pans, gains, n, pan_law="constant_power",
                              diffuse=read(item.find("SOURCE").find("FILE")[1]))
        level_error, ild_r = compare(read(clip["wav"]), rebuilt)
        print(f"{clip['name']}: RPP rebuild within {level_error:.3f} dB, ILD r = {ild_r:.4f}")
        assert level_error <= 1.0 and ild_r >= 0.95


def test_the_edit_gain_limits_only_the_mixes_past_the_ceiling_and_reads_only_those_in_its_rounds(tmp_path, monkeypatch):
    """A steady clip and a clip of clicks: the edit's gain takes the clicks past -1 dBTP, so that mix is limited
    (and the gain raised until the edit is at the target); the steady mix is the raw one times the gain, and
    the rounds that find the gain never read it (its true peak, measured at render, stays under)."""
    from stereofoley.spatial.loudness import true_peak_level
    from stereofoley.usecases import edit_loudness

    rng = np.random.default_rng(7)
    n = (CLIP_FRAMES + 24) * SAMPLE_RATE_HZ // RATE + SAMPLE_RATE_HZ
    steady = (10 ** (-40 / 20) * rng.standard_normal(n)).astype(np.float32)
    clicks = (10 ** (-50 / 20) * rng.standard_normal(n)).astype(np.float32)
    for start in range(0, n - 240, SAMPLE_RATE_HZ // 4):  # four 5 ms clicks a second, peaks at -6 dBFS
        clicks[start:start + 240] = 0.5 * np.sin(np.linspace(0, 6 * np.pi, 240)) * np.hanning(240)
    mixer = FixedMixer({"steady": steady, "clicks": clicks})
    media = [make_video(tmp_path / "media" / f"{name}.mp4", Fraction(RATE), CLIP_FRAMES + 24) for name in mixer.mixes]
    path = tmp_path / "edit.otio"
    otio.adapters.write_to_file(timeline_of(media), str(path))

    measured = []
    real = edit_loudness._limited_blocks
    monkeypatch.setattr(edit_loudness, "_limited_blocks", lambda r, *a: measured.append(r.request.name) or real(r, *a))
    raw = render_timeline(path, tmp_path / "raw", options=RenderOptions(loudness_lufs=None), mixer=mixer, write_aaf=False)
    report = render_timeline(path, tmp_path / "out", options=RenderOptions(loudness_lufs=-20.0, true_peak_dbtp=-1.0),
                             mixer=mixer, write_aaf=False)
    gain_db = report["loudness"]["gain_db"]
    assert abs(report["loudness"]["lufs"] + 20.0) <= 0.1, report["loudness"]
    mixes = [sf.read(c["wav"], dtype="float32", always_2d=True)[0].T for c in report["clips"]]
    peaks = [true_peak_level(x) for x in mixes]
    assert -1.5 <= peaks[1] <= -1.0 + 1e-3 and peaks[0] < -1.0  # the clicks limited to the ceiling
    raw_steady = sf.read(raw["clips"][0]["wav"], dtype="float32", always_2d=True)[0].T
    ratio_db = 20 * np.log10(np.max(np.abs(mixes[0])) / np.max(np.abs(raw_steady)))
    assert abs(ratio_db - gain_db) < 0.001 and np.allclose(mixes[0], raw_steady * 10 ** (gain_db / 20), atol=2e-7)
    raw_clicks = sf.read(raw["clips"][1]["wav"], dtype="float32", always_2d=True)[0].T
    assert 20 * np.log10(np.max(np.abs(mixes[1])) / np.max(np.abs(raw_clicks))) < gain_db - 1.0  # limited
    blocks = np.concatenate([loudness_blocks(x) for x in mixes])
    assert abs(gated_lufs(blocks) + 20.0) <= 0.1  # the files as written are the edit at the target
    assert measured and set(measured) == {"shot2"}, measured  # only the clicks were read while finding the gain

    # on two Dask workers (the rounds' measurements and the gain run there): the same bytes and the same gain
    workers = render_timeline(path, tmp_path / "workers", options=RenderOptions(loudness_lufs=-20.0, workers=2),
                              mixer=mixer, write_aaf=False)
    assert workers["loudness"] == report["loudness"] and workers["execution"]["mode"] == "dask"
    for c, w in zip(report["clips"], workers["clips"]):
        assert Path(c["wav"]).read_bytes() == Path(w["wav"]).read_bytes()
    print(f"edit gain {gain_db:.2f} dB, {len(measured)} round(s) measured the limited clip; peaks {peaks}")
