"""Honest media (issue 17, defect 12a): media cut short decodes only partly, and says so.

A range whose picture decodes over at least MIN_ANALYSED_FRACTION of it renders with a warning (exit 3, one line on
stderr naming the file, the clip and the fraction; the result and report carry `analysed_fraction`); under it the
range is refused. Files are truncated by byte count: MP4 with its moov atom at the front (movflags=faststart, so
the header survives) and Matroska. The true fraction comes from the untruncated file's packet byte positions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest

from stereofoley import cli
from stereofoley.vision import analyze_video
from stereofoley.vision.analyze import MIN_ANALYSED_FRACTION

FPS, N_FRAMES = 24, 96  # 4 s
FORMATS = {"mp4": ("mp4", {"movflags": "faststart"}), "mkv": ("matroska", {})}
FAST = ["--no-cache", "--detector", "motion", "--sources", "neutral", "--analysis-fps", "6"]


def write_noise_video(path: Path, container_format: str, options: dict) -> Path:
    """Noise frames (each about as many bytes as the next, so bytes ~ time), a keyframe every 12 frames."""
    rng = np.random.default_rng(1)
    with av.open(str(path), "w", format=container_format, options=options) as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "veryfast", "g": "12"}
        for _ in range(N_FRAMES):
            image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def truncated(full: Path, fraction_of_bytes: float, out: Path) -> tuple[Path, float]:
    """The first bytes of `full` as `out`, and the fraction of its frames whose packets lie wholly in them."""
    data = full.read_bytes()
    cut = int(len(data) * fraction_of_bytes)
    out.write_bytes(data[:cut])
    with av.open(str(full)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size]
        whole = sum(1 for p in packets if p.pos is not None and p.pos + p.size <= cut)
    return out, whole / len(packets)


@pytest.fixture(scope="module", params=sorted(FORMATS))
def media(request, tmp_path_factory):
    """(full file, half-truncated file, its true decodable fraction, a 10 %-truncated file)."""
    ext = request.param
    folder = tmp_path_factory.mktemp(f"honest-{ext}")
    full = write_noise_video(folder / f"full.{ext}", *FORMATS[ext])
    half, truth = truncated(full, 0.5, folder / f"half.{ext}")
    tenth, _ = truncated(full, 0.1, folder / f"tenth.{ext}")
    assert 0.4 < truth < 0.6
    return full, half, truth, tenth


def stderr_lines(capsys) -> tuple[str, list[str]]:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out, [line for line in captured.err.splitlines() if "warning: " in line or "error: " in line]


def test_analysis_reports_the_fraction_that_decodes(media):
    full, half, truth, _ = media
    assert analyze_video(full, detector="motion").analysed_fraction == 1.0
    partial = analyze_video(half, detector="motion")
    assert abs(partial.analysed_fraction - truth) <= 0.1
    assert partial.end_s == pytest.approx(4.0, abs=0.05)  # the range asked for stays the range reported


def test_analyze_exits_3_with_one_line_naming_file_and_fraction(media, tmp_path, capsys):
    _, half, truth, _ = media
    assert cli.main(["analyze", str(half), "-o", str(tmp_path / "t.json"), "--detector", "motion", "--no-cache",
                     "--json"]) == 3
    out, lines = stderr_lines(capsys)
    assert abs(json.loads(out)["analysed_fraction"] - truth) <= 0.1
    (line,) = lines
    assert half.name in line and "%" in line
    assert abs(float(re.search(r"only ([\d.]+) %", line).group(1)) / 100 - truth) <= 0.1


def test_clip_renders_with_exit_3_and_reports_the_fraction(media, tmp_path, capsys):
    full, half, truth, _ = media
    assert cli.main(["clip", str(full), "-o", str(tmp_path / "full.wav"), *FAST, "--json"]) == 0
    out, lines = stderr_lines(capsys)
    assert json.loads(out)["analysed_fraction"] == 1.0 and lines == []

    assert cli.main(["clip", str(half), "-o", str(tmp_path / "half.wav"), *FAST, "--json"]) == 3
    out, lines = stderr_lines(capsys)
    summary = json.loads(out)
    assert abs(summary["analysed_fraction"] - truth) <= 0.1 and (tmp_path / "half.wav").is_file()
    (line,) = lines
    assert half.name in line and "clip 'half'" in line and "decodes" in line


def test_under_the_threshold_a_clip_is_refused_in_one_line(media, tmp_path, capsys):
    _, _, _, tenth = media
    assert cli.main(["clip", str(tenth), "-o", str(tmp_path / "tenth.wav"), *FAST]) == 1
    _, lines = stderr_lines(capsys)
    (line,) = lines
    assert tenth.name in line and "MIN_ANALYSED_FRACTION" in line
    assert float(re.search(r"only ([\d.]+) %", line).group(1)) / 100 < MIN_ANALYSED_FRACTION
    assert not (tmp_path / "tenth.wav").exists()


def test_render_lists_a_partly_decoded_clip_and_exits_3(media, tmp_path, capsys):
    full, half, truth, _ = media
    tl = otio.schema.Timeline(name="t")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for name, path in (("whole", full), ("cut", half)):
        track.append(otio.schema.Clip(
            name=name, media_reference=otio.schema.ExternalReference(target_url=str(path)),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, FPS),
                                                 otio.opentime.RationalTime(N_FRAMES, FPS))))
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(tmp_path / "edit.otio"))
    assert cli.main(["render", str(tmp_path / "edit.otio"), "-o", str(tmp_path / "out"), *FAST, "--json"]) == 3
    out, lines = stderr_lines(capsys)
    report = json.loads(out)
    assert report["status"] == "partial" and report["skipped"] == []
    by_name = {c["name"]: c for c in report["clips"]}
    assert by_name["whole"]["analysed_fraction"] == 1.0
    assert abs(by_name["cut"]["analysed_fraction"] - truth) <= 0.1
    (warning,) = report["warnings"]
    assert warning["name"] == "cut" and half.name in warning["reason"]
    (line,) = lines
    assert "clip 'cut'" in line and half.name in line and "%" in line


def test_a_clips_job_over_partly_decoded_media_is_partial(media, tmp_path):
    from stereofoley.jobs import parse_job, run_job

    full, half, truth, _ = media
    job = parse_job({"version": 1, "kind": "clips", "out_dir": str(tmp_path / "out"),
                     "clips": [{"id": "whole", "media": str(full)}, {"id": "cut", "media": str(half)}],
                     "options": {"detector": "motion", "sources": "neutral", "cache": False, "analysis_fps": 6}})
    status = run_job(job)
    assert status["state"] == "partial" and "1 from media that decodes only partly" in status["message"], status
    by_id = {r["id"]: r for r in status["results"]}
    assert by_id["whole"]["analysed_fraction"] == 1.0 and "warning" not in by_id["whole"]
    assert abs(by_id["cut"]["analysed_fraction"] - truth) <= 0.1 and half.name in by_id["cut"]["warning"]


def test_the_fraction_survives_the_analysis_cache_and_tracks_json(media, tmp_path):
    from stereofoley.vision import read_tracks, write_tracks

    _, half, truth, tenth = media
    first = analyze_video(half, detector="motion", cache_dir=tmp_path / "cache")
    again = analyze_video(half, detector="motion", cache_dir=tmp_path / "cache")  # a cache hit
    assert again.analysed_fraction == pytest.approx(first.analysed_fraction) and abs(again.analysed_fraction - truth) <= 0.1
    assert read_tracks(write_tracks(first, tmp_path / "t.json")).analysed_end_s == pytest.approx(first.analysed_end_s)
    for _ in range(2):  # refused when analysed, and again when the analysis comes from the cache
        with pytest.raises(Exception, match="MIN_ANALYSED_FRACTION"):
            analyze_video(tenth, detector="motion", cache_dir=tmp_path / "cache")


def test_media_damaged_mid_file_keeps_what_decoded_and_reports_it(tmp_path, capsys):
    """A decoder error half-way (bytes overwritten in an MP4's mdat) used to refuse the whole clip; now the
    frames before it are analysed and the fraction is reported (the frames after it are not claimed)."""
    full = write_noise_video(tmp_path / "full.mp4", *FORMATS["mp4"])
    data = bytearray(full.read_bytes())
    at = len(data) // 2
    data[at:at + 20000] = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    _, truth = truncated(full, 0.5, tmp_path / "unused.mp4")  # the frames wholly before the damage
    assert cli.main(["clip", str(damaged), "-o", str(tmp_path / "d.wav"), *FAST, "--json"]) == 3
    out, lines = stderr_lines(capsys)
    assert abs(json.loads(out)["analysed_fraction"] - truth) <= 0.1
    (line,) = lines
    assert "damaged.mp4" in line and "clip 'damaged'" in line
