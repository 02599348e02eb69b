"""Timeline planning and output-writing speed on a 2-hour, 2,000-clip edit at 29.97 fps.

Prints, measured in this run on the same input:
  - read + plan (picture clips, visibility, selection, media resolution, clip requests) vs OTIO's own read
    (goal: under 5 s in total);
  - the per-clip overhead of writing the outputs (Foley tracks + .otio + FCP 7 XML + .rpp + .aaf) vs OTIO writing
    the input timeline as .otio, and the BWF writing time per clip of audio.
Run: .venv/bin/python bench/bench_timeline.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio

from stereofoley.timeline import MediaSearch, Selection, picture_clips, read_timeline, select
from stereofoley.audio import write_bwf
from stereofoley.timeline.aaf import write_aaf
from stereofoley.timeline.fcp_xml import write_fcp_xml
from stereofoley.timeline.output import FoleyClip, output_timeline, write_otio
from stereofoley.timeline.relink import resolve_all
from stereofoley.timeline.request import clip_request
from stereofoley.usecases.timeline import _rpp_text

RATE = 30000 / 1001
N_CLIPS = 2000
HOURS = 2.0
N_MEDIA = 40


def build(folder: Path) -> Path:
    """V1: 2,000 abutting clips (every 50th with a cross dissolve) over 2 h; V2: 100 overlay clips;
    one audio track. Media: 40 files (empty placeholders; nothing here decodes them)."""
    rng = np.random.default_rng(1)
    total_frames = int(HOURS * 3600 * RATE)
    cuts = np.sort(rng.choice(np.arange(24, total_frames - 24), N_CLIPS - 1, replace=False))
    lengths = np.diff(np.concatenate([[0], cuts, [total_frames]]))
    media = folder / "media"
    media.mkdir()
    for k in range(N_MEDIA):
        (media / f"shot_{k:03d}.mov").write_bytes(b"")
    rt = lambda v: otio.opentime.RationalTime(int(v), RATE)
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i, n in enumerate(lengths):
        start = int(rng.integers(0, 2000))
        ref = otio.schema.ExternalReference(
            target_url=f"file://localhost/D%3a/project/media/shot_{i % N_MEDIA:03d}.mov",
            available_range=otio.opentime.TimeRange(rt(0), rt(start + n + 200)))
        v1.append(otio.schema.Clip(name=f"shot {i}", media_reference=ref,
                                   source_range=otio.opentime.TimeRange(rt(start + 100), rt(n))))
        if i % 50 == 49 and i < N_CLIPS - 1:
            v1.append(otio.schema.Transition(in_offset=rt(6), out_offset=rt(6)))
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    for k in range(100):
        v2.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(total_frames // 100 - 48))))
        ref = otio.schema.ExternalReference(target_url=f"file:///project/media/shot_{k % N_MEDIA:03d}.mov")
        v2.append(otio.schema.Clip(name=f"insert {k}", media_reference=ref,
                                   source_range=otio.opentime.TimeRange(rt(0), rt(48))))
    a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    a1.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(total_frames))))
    timeline = otio.schema.Timeline(name="bench", tracks=[v1, v2, a1], global_start_time=rt(107892))
    path = folder / "bench.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = build(folder)
        n_items = sum(1 for _ in otio.adapters.read_from_file(str(path)).find_clips())

        t0 = time.perf_counter()
        otio.adapters.read_from_file(str(path))
        t_otio_read = time.perf_counter() - t0

        t0 = time.perf_counter()
        timeline = read_timeline(path)
        clips = picture_clips(timeline)
        chosen = select(timeline, clips, Selection())
        search = MediaSearch(roots=(folder / "media",))
        requests, planned = [], []
        relinked = resolve_all(chosen, search)  # the media root is indexed once
        for c in chosen:
            found = relinked[c.id]
            requests.append(clip_request(c, found.path))
            planned.append(c)
        t_plan = time.perf_counter() - t0
        duration_h = float(max(c.record_end_s for c in clips)) / 3600

        print(f"timeline: {n_items} clips, {duration_h:.2f} h at 29.97 fps; {len(chosen)} visible clips planned")
        print(f"read + plan: {t_plan:.2f} s (goal < 5 s)  vs  OTIO read alone: {t_otio_read:.2f} s  "
              f"-> ratio {t_plan / t_otio_read:.2f}x")

        # Output writing for every planned clip (two automation curves of 25 points per object, 2 objects).
        curve = [[float(t), float(np.sin(t))] for t in np.linspace(0, 3, 25)]
        foley = [
            FoleyClip(c.id, f"{c.name} (StereoFoley)", c.record_start_s, c.record_end_s, folder / f"{c.id}.wav",
                      {"objects": [{"name": f"car-{k}", "class": "car", "curves": {"pan": curve, "gain_db": curve},
                                    "source_wav": str(folder / f"{c.id}.obj{k}.wav")} for k in (1, 2)],
                       "picture": {"name": c.name, "media": "/m.mov", "media_start_s": 0.0, "media_end_s": 1.0, "speed": 1.0}})
            for c in planned
        ]
        t0 = time.perf_counter()
        otio.adapters.write_to_file(timeline, str(folder / "baseline.otio"))
        t_otio_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = output_timeline(timeline, foley, RATE)
        write_otio(result, folder / "out.stereofoley.otio", overwrite=False)
        t_otio = time.perf_counter() - t0
        t0 = time.perf_counter()
        kind = write_fcp_xml(result, planned, folder / "out.stereofoley.xml", overwrite=False).content
        t_xml = time.perf_counter() - t0
        for c in foley:  # the AAF describes each WAV from its header: one-sample stand-ins (speed only)
            write_bwf(c.wav, np.zeros((2, 1), np.float32), time_reference_samples=0)
        t0 = time.perf_counter()
        write_aaf(result, folder / "out.stereofoley.aaf", overwrite=False)
        t_aaf = time.perf_counter() - t0
        t0 = time.perf_counter()
        (folder / "out.stereofoley.rpp").write_text(_rpp_text(result))
        t_rpp = time.perf_counter() - t0
        total = t_otio + t_xml + t_rpp + t_aaf
        per_clip_ms = 1000 * total / len(foley)
        print(f"outputs for {len(foley)} clips: .otio {t_otio:.2f} s, FCP XML {t_xml:.2f} s ({kind}), "
              f".rpp {t_rpp:.2f} s, .aaf {t_aaf:.2f} s -> {per_clip_ms:.2f} ms per clip")
        print(f"  vs OTIO writing the input .otio: {t_otio_write:.2f} s -> ratio {total / t_otio_write:.2f}x")

        # BWF: the audio itself, per clip of the timeline's mean length (3.6 s of 48 kHz stereo, 24-bit).
        n = int(round(float(np.mean([float(c.record_duration_s) for c in planned])) * 48000))
        audio = (np.random.default_rng(0).standard_normal((2, n)) * 0.1).astype(np.float32)
        t0 = time.perf_counter()
        for k in range(20):
            write_bwf(folder / f"bwf{k}.wav", audio, time_reference_samples=k * n)
        t_bwf = (time.perf_counter() - t0) / 20
        import soundfile as sf

        t0 = time.perf_counter()
        for k in range(20):
            sf.write(str(folder / f"plain{k}.wav"), audio.T, 48000, subtype="PCM_24")
        t_plain = (time.perf_counter() - t0) / 20
        print(f"BWF WAV per clip ({n / 48000:.1f} s stereo): {1000 * t_bwf:.1f} ms vs soundfile plain WAV "
              f"{1000 * t_plain:.1f} ms -> ratio {t_bwf / t_plain:.2f}x")


if __name__ == "__main__":
    main()
