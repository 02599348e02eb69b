"""Scale-out: the same edit rendered with 1 and with N Dask workers (default 2) in one run, outputs compared.

Prints, measured in this run on the same input (docs/timeline.md, "Scale-out"):
  - serial and parallel wall time, the speed-up (target >= 1.6x with 2 workers on 2 cores) and the speed-up
    without the cluster's start-up;
  - the cluster's start-up (processes, imports: paid once per render) and each worker's first-clip extra (the
    model load: paid once per worker, not per clip);
  - the cluster overhead per clip (worker time not spent rendering, scheduling, results coming back);
  - clips per worker-hour and a farm projection for a 2,000-clip edit from those figures;
  - whether every output file (mixes, stems, tracks.json, .otio, .xml, .rpp) is byte-identical;
  - a baseline without Dask: the edit dealt into N parts, each rendered serially by its own process, all at
    once (what one could do by hand; each part then has its own loudness gain). "split_speedup" is its
    speed-up over serial, "dask_over_split" Dask's over it (--no-split skips it).
Run: PYTHONPATH=engine:adapters .venv/bin/python bench/bench_render_scale.py [--clips 16] [--frames 50] [--size 320x180] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from stereofoley.evaluation import synthetic
from stereofoley.options import RenderOptions
from stereofoley.usecases.timeline import render_timeline

FPS = 25
SCENES = (synthetic.passing_vehicle, synthetic.crossing, synthetic.approaching, synthetic.receding)
WEIGHTS = Path(__file__).resolve().parents[1] / "engine" / "stereofoley" / "data" / "sprites_yolo.pt"


def build(folder: Path, n_clips: int, clip_frames: int, size: tuple[int, int] = (320, 180)) -> Path:
    """n_clips clips of clip_frames frames, cut from four 4-second synthetic shots of `size` in turn."""
    media = []
    for k, scene in enumerate(SCENES):
        path = folder / f"shot{k}.mp4"
        synthetic.write_video(scene(duration_s=4.0, width=size[0], height=size[1], fps=Fraction(FPS)), path)
        media.append(path)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i in range(n_clips):
        start = (i * 7) % (4 * FPS - clip_frames)
        span = otio.opentime.TimeRange(otio.opentime.RationalTime(start, FPS), otio.opentime.RationalTime(clip_frames, FPS))
        track.append(otio.schema.Clip(name=f"shot{i % 4}_{i}", source_range=span,
                                      media_reference=otio.schema.ExternalReference(
                                          target_url=otio.url_utils.url_from_filepath(str(media[i % 4])))))
    edit = folder / "edit.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="edit", tracks=[track]), str(edit))
    return edit


def split(edit: Path, parts: int) -> list[Path]:
    """The edit's clips dealt into `parts` edits (clip k to part k % parts), as the executor spreads them."""
    timeline = otio.adapters.read_from_file(str(edit))
    clips = list(timeline.tracks[0])
    paths = []
    for k in range(parts):
        track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
        for clip in clips[k::parts]:
            track.append(clip.deepcopy())
        path = edit.with_name(f"part{k}.otio")
        otio.adapters.write_to_file(otio.schema.Timeline(name=f"part{k}", tracks=[track]), str(path))
        paths.append(path)
    return paths


RENDER_ONE = """
import sys
from pathlib import Path
from stereofoley.options import RenderOptions
from stereofoley.usecases.timeline import render_timeline
render_timeline(Path(sys.argv[1]), Path(sys.argv[2]), options=RenderOptions(**eval(sys.argv[3])), write_aaf=False)
"""


def independent_processes(parts: list[Path], out: Path, options: dict) -> float:
    """Wall seconds for every part rendered serially by its own Python process, all started at once."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", RENDER_ONE, str(p), str(out / p.stem), repr(options)], env=env,
                              stderr=subprocess.DEVNULL) for p in parts]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("an independent render failed")
    return time.perf_counter() - t0


def outputs(out: Path) -> dict[str, bytes]:
    files = {}
    for p in sorted(out.iterdir()):
        if p.name.endswith((".stereofoley.json", ".resume.json")) or p.suffix == ".aaf":
            continue  # timings; resume records hold the files' mtimes; AAF has its own ids and dates
        data = p.read_bytes()
        if p.suffix in (".json", ".otio", ".xml", ".rpp"):
            data = data.replace(str(out.resolve()).encode(), b"<OUT>")
        files[p.name] = data
    return files


def figures(serial: dict, par: dict, t_serial: float, t_par: float, t_split: float | None) -> dict:
    """One serial/parallel pair: wall times and speed-ups, with and without start-up (imports, model load)."""
    n = len(par["clips"])
    ex, sx = par["execution"], serial["execution"]
    steady = lambda total, first, clips: (total - first) / max(1, clips - 1)  # a clip once imports and model are loaded
    serial_steady = steady(sx["compute_s"], sx["first_clip_s"], n)
    workers = list(ex["per_worker"].values())
    extra = [w["first_clip_s"] - steady(w["compute_s"], w["first_clip_s"], w["clips"]) for w in workers if w["clips"] > 1]
    worker_steady = sum(w["compute_s"] - w["first_clip_s"] for w in workers) / max(1, n - len(workers))
    overhead = max(0.0, (ex["render_s"] * ex["workers"] - ex["compute_s"]) / max(1, n))
    par_steady = ex["render_s"] - (sum(extra) / len(extra) if extra else 0.0)
    serial_cpu = steady(sx["cpu_s"], sx["first_clip_cpu_s"], n)
    worker_cpu = sum(w["cpu_s"] - w["first_clip_cpu_s"] for w in workers) / max(1, n - len(workers))
    return {
        "clips": n, "workers": ex["workers"], "skipped": len(par["skipped"]) + len(serial["skipped"]),
        "serial_s": round(t_serial, 2), "parallel_s": round(t_par, 2), "speedup": round(t_serial / t_par, 2),
        "split_processes_s": round(t_split, 2) if t_split else None,
        "split_speedup": round(t_serial / t_split, 2) if t_split else None,
        "dask_over_split": round(t_split / t_par, 2) if t_split else None,
        "edit_gain_s": {"serial": round(serial["timings"]["render_s"] - sx["compute_s"], 2),
                        "parallel": round(ex.get("edit_gain_s", 0.0), 2)},
        "cluster_startup_s": round(ex["startup_s"], 2),
        "first_clip_extra_s": {"serial": round(sx["first_clip_s"] - serial_steady, 2),
                               "per_worker": [round(x, 2) for x in extra]},
        "speedup_without_startup": round(serial_steady * n / par_steady, 2),
        "serial_s_per_clip_steady": round(serial_steady, 3), "worker_s_per_clip_steady": round(worker_steady, 3),
        "cluster_overhead_s_per_clip": round(overhead, 3),
        # CPU seconds per clip (every thread of the process): what a clip costs when its worker has its core(s)
        "serial_cpu_s_per_clip_steady": round(serial_cpu, 3), "worker_cpu_s_per_clip_steady": round(worker_cpu, 3),
        "peak_rss_mb_per_worker": [w["peak_rss_mb"] for w in workers],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--frames", type=int, default=50, help="frames per clip (default 50: 2 s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", default="320x180", help="picture size WxH (960x540: a clip costs what an HD one does)")
    parser.add_argument("--detector", default="yolo", help="yolo (the shipped sprite model) or motion")
    parser.add_argument("--rounds", type=int, default=1, help="serial/parallel pairs, alternated (each reported)")
    parser.add_argument("--no-split", action="store_true", help="skip the baseline of N separate processes")
    args = parser.parse_args()
    options = dict(detector=args.detector, weights=str(WEIGHTS) if args.detector == "yolo" else None, cache=False,
                   sources="synth", seed=1, overwrite=True)
    serial_times, par_times, split_times, runs = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        edit = build(folder, args.clips, args.frames, tuple(int(v) for v in args.size.split("x")))
        identical, different, n_files = True, [], 0
        for _ in range(args.rounds):  # alternated, so that a change in the machine's load hits both alike
            t0 = time.perf_counter()
            serial = render_timeline(edit, folder / "serial", options=RenderOptions(**options), write_aaf=False)
            serial_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            par = render_timeline(edit, folder / "parallel", options=RenderOptions(**options, workers=args.workers),
                                  write_aaf=False)
            par_times.append(time.perf_counter() - t0)
            split_times.append(None if args.no_split else
                                 independent_processes(split(edit, args.workers), folder / "split", options))
            runs.append((serial, par))
            a, b = outputs(folder / "serial"), outputs(folder / "parallel")
            identical = identical and sorted(a) == sorted(b) and all(a[k] == b[k] for k in a)
            different += sorted(k for k in a if a.get(k) != b.get(k))
            n_files = len(a)
    rounds = [figures(s_run, p_run, t_s, t_p, t_c)
              for (s_run, p_run), t_s, t_p, t_c in zip(runs, serial_times, par_times, split_times)]
    report = {"outputs_identical": identical, "files_compared": n_files, "different": different[:5],
              "load_average_1min": round(os.getloadavg()[0], 2), "cores": len(os.sched_getaffinity(0)),
              "rounds": rounds}
    ex = runs[0][1]["execution"]
    first = rounds[0]
    clip_cost, overhead_per_clip = first["worker_s_per_clip_steady"] + first["cluster_overhead_s_per_clip"], first["cluster_overhead_s_per_clip"]
    per_worker_hour = 3600.0 / clip_cost
    print(json.dumps(report, indent=2))
    for workers in (8, 32, 128):
        hours = (ex["startup_s"] + first["first_clip_extra_s"]["per_worker"][0] + 2000 * clip_cost / workers) / 3600
        print(f"farm projection: 2,000 clips on {workers} workers ~ {hours:.2f} h "
              f"({per_worker_hour:.0f} clips per worker-hour, {overhead_per_clip:.3f} s overhead per clip)")


if __name__ == "__main__":
    main()
