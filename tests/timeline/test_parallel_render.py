"""An edit's clips on Dask (usecases/parallel.py): the same bytes as a serial render, on local workers and on an
external `dask scheduler` + `dask worker` on loopback; clips that fail on a worker are skipped with the serial
reason; the worker path map and the job's confinement apply on the worker; cancelling (Ctrl-C, a job's cancel)
returns promptly, closes the cluster and leaves no half file; a job may use only an allow-listed scheduler."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import psutil
import pytest
import soundfile as sf

from stereofoley.cli import main
from stereofoley.errors import InvalidJob, InvalidParameter, UnsupportedTimeline
from stereofoley.evaluation import synthetic
from stereofoley.files import confinement
from stereofoley.jobs import SCHEDULERS_ENV, parse_job, run_job
from stereofoley.options import RenderOptions
from stereofoley.usecases.parallel import map_path, parse_path_map
from stereofoley.usecases.timeline import render_timeline
from timeline_mixers import MemoryHog

REPO = Path(__file__).resolve().parents[2]
FLAGS = ["--detector", "motion", "--no-cache", "--sources", "synth", "--seed", "3", "--no-aaf"]
OPTIONS = dict(detector="motion", cache=False, sources="synth", seed=3)
FPS = 25


def write_edit(path: Path, clips: list[tuple[Path, int, int]]) -> Path:
    """One video track of (media, first frame, frames) clips, back to back."""
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for k, (media, start, frames) in enumerate(clips):
        span = otio.opentime.TimeRange(otio.opentime.RationalTime(start, FPS), otio.opentime.RationalTime(frames, FPS))
        track.append(otio.schema.Clip(name=f"{media.stem}{k}", source_range=span,
                                      media_reference=otio.schema.ExternalReference(
                                          target_url=otio.url_utils.url_from_filepath(str(media)))))
    otio.adapters.write_to_file(otio.schema.Timeline(name="edit", tracks=[track]), str(path))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A folder with two tiny videos: a car passing, two figures crossing."""
    folder = tmp_path_factory.mktemp("media")
    synthetic.write_video(synthetic.passing_vehicle(duration_s=3.0, width=96, height=54, fps=Fraction(FPS)), folder / "car.mp4")
    synthetic.write_video(synthetic.crossing(duration_s=3.0, width=96, height=54, fps=Fraction(FPS)), folder / "walk.mp4")
    return folder


@pytest.fixture(scope="module")
def edit(media, tmp_path_factory) -> Path:
    """Six one-second clips from the two videos, each with at least one object sounding."""
    clips = [(media / name, start, 25) for start in (10, 25, 40) for name in ("car.mp4", "walk.mp4")]
    return write_edit(tmp_path_factory.mktemp("edit") / "edit.otio", clips)


@pytest.fixture(scope="module")
def serial(edit, tmp_path_factory) -> Path:
    """The edit rendered one clip after another (the reference)."""
    out = tmp_path_factory.mktemp("serial") / "out"
    assert main(["render", str(edit), "-o", str(out), *FLAGS, "--quiet"]) == 0
    return out


def outputs(out: Path) -> tuple[dict[str, bytes], dict]:
    """Every file of a render by name (the folder's own path replaced in text files) and the report without its
    timings and execution (where and how fast it ran)."""
    files = {}
    for p in sorted(out.iterdir()):
        data = p.read_bytes()
        if p.name.endswith(".resume.json"):  # resume records: the same key and result; the files' mtimes differ
            record = json.loads(data.replace(str(out.resolve()).encode(), b"<OUT>"))
            data = json.dumps({k: record[k] for k in ("state", "key", "fingerprint", "result")}).encode()
        if p.suffix in (".json", ".otio", ".xml", ".rpp"):
            data = data.replace(str(out.resolve()).encode(), b"<OUT>")
        files[p.name] = data
    report = json.loads(files.pop("edit.stereofoley.json"))
    for key in ("timings", "execution"):
        report.pop(key)
    return files, report


def assert_same_render(a: Path, b: Path) -> None:
    files_a, report_a = outputs(a)
    files_b, report_b = outputs(b)
    assert sorted(files_a) == sorted(files_b)
    assert sum(name.endswith(".tracks.json") for name in files_a) >= 6
    assert sum(name.endswith(".wav") for name in files_a) >= 12  # mixes and stems
    assert sum(name.endswith(".resume.json") for name in files_a) == 6  # every clip recorded, workers' too
    different = [name for name in files_a if files_a[name] != files_b[name]]
    assert not different
    assert report_a == report_b


def test_two_local_workers_write_the_same_bytes_as_one(edit, serial, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", str(edit), "-o", str(out), *FLAGS, "--workers", "2", "--worker-memory-mb", "2048",
                 "--json"]) == 0
    execution = json.loads(capsys.readouterr().out)["execution"]
    assert_same_render(serial, out)
    assert execution["mode"] == "dask" and execution["workers"] == 2 and execution["memory_limit_mb"] == 2048
    per_worker = execution["per_worker"]
    assert len(per_worker) == 2 and sum(w["clips"] for w in per_worker.values()) == 6  # both workers rendered
    # the edit's one loudness gain was applied to each clip's files by the workers, not by the client
    assert sum(execution["edit_gain_tasks"].values()) == 6 and set(execution["edit_gain_tasks"]) <= set(per_worker)
    assert all(0 < w["peak_rss_mb"] < 2048 for w in per_worker.values())
    assert execution["startup_s"] > 0 and execution["render_s"] > 0
    serial_report = json.loads((serial / "edit.stereofoley.json").read_text())
    assert {k: serial_report["execution"][k] for k in ("mode", "workers", "scheduler")} == {
        "mode": "serial", "workers": 1, "scheduler": None}
    assert serial_report["execution"]["compute_s"] > 0


# ------------------------------------------------------------------------------------------------ external
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dask_processes(folder: Path, workers: int = 1, worker_args: tuple[str, ...] = ()):
    """`dask scheduler` and `workers` x `dask worker` on loopback, with this worktree's code, as subprocesses:
    yields (address, the worker processes); all stopped afterwards."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / "engine"), str(REPO / "adapters"), os.environ.get("PYTHONPATH", "")]))
    dask = str(Path(sys.executable).parent / "dask")
    log = open(folder / "cluster.log", "w")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                               "--no-dashboard"], env=env, cwd=folder, stdout=log, stderr=log)]
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--host",
                                           "127.0.0.1", "--local-directory", str(folder), *worker_args], env=env,
                                          cwd=folder, stdout=log, stderr=log))
        with Client(address, timeout=60) as client:  # the scheduler listens (and the workers are in)
            if workers:
                client.wait_for_workers(workers, timeout=120)
        yield address, procs[1:]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()
    assert all(p.poll() is not None for p in procs)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """An external scheduler and one worker (dask_processes) for the module's tests."""
    with dask_processes(tmp_path_factory.mktemp("cluster")) as (address, _):
        yield address


def test_an_external_cluster_writes_the_same_bytes(edit, serial, dask_cluster, tmp_path):
    out = tmp_path / "out"
    report = render_timeline(edit, out, options=RenderOptions(**OPTIONS, scheduler=dask_cluster), write_aaf=False)
    assert_same_render(serial, out)
    assert report["execution"]["scheduler"] == dask_cluster and report["execution"]["workers"] == 1
    assert sum(w["clips"] for w in report["execution"]["per_worker"].values()) == 6


def test_a_clip_that_fails_on_a_worker_is_skipped_with_the_serial_reason(media, dask_cluster, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4096))  # found by the client, unreadable by the worker's decoder
    clips = [(media / "car.mp4", 10, 25), (junk, 0, 25), (media / "walk.mp4", 10, 25)]
    edit = write_edit(tmp_path / "edit.otio", clips)
    reports = {}
    for name, extra in (("serial", {}), ("cluster", {"scheduler": dask_cluster})):
        reports[name] = render_timeline(edit, tmp_path / name, options=RenderOptions(**OPTIONS, **extra),
                                        write_aaf=False)
    serial_report, cluster_report = reports["serial"], reports["cluster"]
    assert cluster_report["status"] == "partial" and [c["name"] for c in cluster_report["clips"]] == ["car0", "walk2"]
    (skipped,) = cluster_report["skipped"]
    assert skipped == serial_report["skipped"][0] and skipped["name"] == "junk1"
    assert skipped["reason"].startswith("InvalidMedia: ") and str(junk) in skipped["reason"]
    for c in cluster_report["clips"]:
        assert Path(c["wav"]).read_bytes() == (tmp_path / "serial" / Path(c["wav"]).name).read_bytes()


def test_a_clip_that_takes_its_worker_past_the_memory_limit_is_skipped_and_the_rest_render(edit, serial, tmp_path):
    out = tmp_path / "out"
    report = render_timeline(edit, out, options=RenderOptions(**OPTIONS, workers=2, worker_memory_mb=1024),
                             mixer=MemoryHog("walk1"), write_aaf=False)
    (skipped,) = report["skipped"]
    assert skipped["name"] == "walk1" and skipped["reason"].startswith("KilledWorker: ")
    assert "1024 MiB" in skipped["reason"] and "\n" not in skipped["reason"], skipped
    assert report["status"] == "partial" and len(report["clips"]) == 5
    assert report["execution"]["memory_limit_mb"] == 1024
    assert_no_half_files(out)
    for c in report["clips"]:  # the others as a serial render of the same clips gives them (5 clips: another gain)
        assert Path(c["tracks"]).read_bytes() == (serial / Path(c["tracks"]).name).read_bytes()


def test_a_scheduler_without_workers_is_a_one_line_error_not_a_hang(edit, tmp_path, monkeypatch):
    from stereofoley.usecases import parallel

    monkeypatch.setattr(parallel, "WORKER_WAIT_S", 3.0)
    with dask_processes(tmp_path, workers=0) as (address, _):
        t0 = time.monotonic()
        with pytest.raises(parallel.SchedulerUnavailable) as failed:
            render_timeline(edit, tmp_path / "out", options=RenderOptions(**OPTIONS, scheduler=address))
        assert time.monotonic() - t0 < 30
    message = str(failed.value)
    assert "\n" not in message and address in message and "has no workers" in message and "dask worker" in message
    assert not mixes(tmp_path / "out")


def test_a_render_whose_last_worker_dies_is_a_one_line_error_not_a_hang(long_edit, tmp_path, monkeypatch):
    from stereofoley.usecases import parallel

    monkeypatch.setattr(parallel, "WORKER_WAIT_S", 3.0)
    out = tmp_path / "out"
    killed = {}
    with dask_processes(tmp_path, workers=1, worker_args=("--no-nanny",)) as (address, (worker,)):
        def kill_after_first_clip():
            while not mixes(out):
                time.sleep(0.05)
            worker.kill()  # no Nanny to start another
            killed["t"] = time.monotonic()

        killer = threading.Thread(target=kill_after_first_clip, daemon=True)
        killer.start()
        with pytest.raises(parallel.SchedulerUnavailable) as failed:
            render_timeline(long_edit, out, options=RenderOptions(**OPTIONS, scheduler=address))
        t_failed = time.monotonic()
        killer.join(timeout=10)
    message = str(failed.value)
    assert "\n" not in message and "no worker left for 3 s" in message and "pending" in message, message
    assert worker.poll() is not None and t_failed - killed["t"] < 30  # the wait, a tick, the scheduler noticing
    assert not (out / "long.stereofoley.otio").exists()


def test_the_worker_path_map_applies_on_the_worker(media, edit, serial, dask_cluster, tmp_path):
    mount = tmp_path / "mount"  # where "the worker" sees the media: car.mp4 only
    mount.mkdir()
    shutil.copy(media / "car.mp4", mount / "car.mp4")
    out = tmp_path / "out"
    options = RenderOptions(**OPTIONS, scheduler=dask_cluster, worker_path_map=(f"{media}={mount}",))
    report = render_timeline(edit, out, options=options, write_aaf=False)
    assert [c["name"] for c in report["clips"]] == ["car0", "car2", "car4"]
    assert len(report["skipped"]) == 3
    for s in report["skipped"]:  # read at the mapped path, which has no walk.mp4: skipped with why, no hang
        assert s["name"].startswith("walk") and str(mount / "walk.mp4") in s["reason"], s
    serial_clips = {c["name"]: c for c in json.loads((serial / "edit.stereofoley.json").read_text())["clips"]}
    for c in report["clips"]:  # the report and tracks.json name the client's paths; the car clips' analyses and
        # curves are the serial ones (their levels are not: the edit's one loudness gain is over three clips now)
        assert c["media"] == str(media / "car.mp4") and Path(c["wav"]).parent == out.resolve()
        assert Path(c["tracks"]).read_bytes() == (serial / Path(c["tracks"]).name).read_bytes()
        assert [o["curves"] for o in c["objects"]] == [o["curves"] for o in serial_clips[c["name"]]["objects"]]
        assert c["objects"] and all(Path(o["source_wav"]).is_file() for o in c["objects"])


def test_a_worker_runs_under_the_jobs_roots(media, dask_cluster, tmp_path):
    inside = tmp_path / "inside"
    shutil.copytree(media, inside / "media")
    elsewhere = tmp_path / "elsewhere"  # outside the roots: the worker may not read it, even by the path map
    shutil.copytree(media, elsewhere)
    edit = write_edit(inside / "edit.otio", [(inside / "media" / "car.mp4", 10, 25), (inside / "media" / "walk.mp4", 10, 25)])
    mapped = RenderOptions(**OPTIONS, scheduler=dask_cluster, worker_path_map=(f"{inside / 'media'}={elsewhere}",))
    with confinement([inside]):
        ok = render_timeline(edit, inside / "ok", options=RenderOptions(**OPTIONS, scheduler=dask_cluster),
                             write_aaf=False)
        with pytest.raises(UnsupportedTimeline) as refused:
            render_timeline(edit, inside / "refused", options=mapped, write_aaf=False)
    assert ok["status"] == "ok" and len(ok["clips"]) == 2
    assert sum(ok["execution"]["edit_gain_tasks"].values()) == 2  # the gain, too, ran on the worker under the roots
    assert "PathNotAllowed" in str(refused.value) and "outside the allowed roots" in str(refused.value)


# ------------------------------------------------------------------------------------------------ cancel
def new_children(before: set[int], grace_s: float = 10.0) -> list[psutil.Process]:
    """Child processes started since `before` that are still alive after grace_s (multiprocessing's one
    resource tracker, started with the first worker and shared by all, is not a worker)."""
    deadline = time.monotonic() + grace_s
    while True:
        alive = [(p.pid, " ".join(p.cmdline())) for p in psutil.Process().children(recursive=True)
                 if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        alive = [a for a in alive if "resource_tracker" not in a[1]]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def assert_no_half_files(out: Path) -> None:
    assert not [p.name for p in out.iterdir() if ".part" in p.name]
    for wav in out.glob("*.wav"):
        info = sf.info(str(wav))
        assert info.samplerate == 48000 and info.frames > 0  # whole files only


def mixes(out: Path) -> list[Path]:
    """The clip mixes in a render folder (not their stems)."""
    return [p for p in out.glob("*.wav") if re.search(r"_\d+-\d+\.wav$", p.name)] if out.is_dir() else []


@pytest.fixture
def long_edit(media, tmp_path) -> Path:
    return write_edit(tmp_path / "long.otio", [(media / name, 0, 70) for name in ("car.mp4", "walk.mp4")] * 4)


def test_ctrl_c_cancels_the_pending_clips_and_closes_the_cluster(long_edit, tmp_path):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    seen = []

    def progress(fraction, message):
        seen.append(message)
        if message.startswith("clips 1/"):
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        render_timeline(long_edit, out, options=RenderOptions(**OPTIONS, workers=2), progress=progress)
    t_raised = time.monotonic()
    assert not new_children(before)  # the local workers are gone
    assert time.monotonic() - t_raised < 10
    assert 1 <= len(mixes(out)) < 8 and not (out / "long.stereofoley.otio").exists()
    assert_no_half_files(out)

    # --resume on workers keeps what the cancelled run finished (recorded on the client as results came back)
    finished = sorted(p.name for p in mixes(out))
    resumed = render_timeline(long_edit, out, options=RenderOptions(**OPTIONS, workers=2, resume=True))
    on_disk = {c["id"] for c in resumed["clips"] if Path(c["wav"]).name in finished}
    # the clip whose result reached the client is kept; those whose workers were stopped as they finished have
    # whole files but no record, and are rendered again
    assert 1 <= len(resumed["resumed"]) and set(resumed["resumed"]) <= on_disk
    assert sorted(resumed["resumed"] + resumed["rendered"]) == sorted(c["id"] for c in resumed["clips"])
    clean = render_timeline(long_edit, tmp_path / "clean", options=RenderOptions(**OPTIONS))
    for c in clean["clips"]:
        assert Path(c["wav"]).read_bytes() == (out / Path(c["wav"]).name).read_bytes()


def test_ctrl_c_while_the_workers_apply_the_edit_gain_leaves_whole_files_and_resumes_to_the_clean_bytes(long_edit, tmp_path):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    seen = []

    def progress(fraction, message):
        seen.append((fraction, message))
        if message.startswith("edit loudness: clips 1/"):
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        render_timeline(long_edit, out, options=RenderOptions(**OPTIONS, workers=2), progress=progress)
    assert not new_children(before)
    assert len(mixes(out)) == 8 and not (out / "long.stereofoley.otio").exists()
    assert_no_half_files(out)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0  # the bar never went back for the gain step
    resumed = render_timeline(long_edit, out, options=RenderOptions(**OPTIONS, workers=2, resume=True))
    clean = render_timeline(long_edit, tmp_path / "clean", options=RenderOptions(**OPTIONS))
    assert resumed["loudness"] == clean["loudness"]
    for c in clean["clips"]:
        assert Path(c["wav"]).read_bytes() == (out / Path(c["wav"]).name).read_bytes()


def test_a_jobs_cancel_stops_a_parallel_timeline_job(long_edit, tmp_path):
    out = tmp_path / "job"
    job = parse_job({"version": 1, "kind": "timeline", "out_dir": str(out), "timeline": str(long_edit),
                     "options": dict(OPTIONS, workers=2)})
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cancel = threading.Event()
    asked = {}

    def cancel_after_first_clip():
        while not mixes(out):
            time.sleep(0.05)
        asked["t"] = time.monotonic()
        cancel.set()

    watcher = threading.Thread(target=cancel_after_first_clip, daemon=True)
    watcher.start()
    status = run_job(job, cancel=cancel)
    stopped = time.monotonic()
    assert status["state"] == "cancelled"
    assert stopped - asked["t"] < 10  # within a few progress ticks and the cluster's close
    assert not new_children(before)
    assert 1 <= len(mixes(out)) < 8
    assert_no_half_files(out)


# ------------------------------------------------------------------------------------------------ options
def test_a_job_may_use_only_an_allow_listed_scheduler(tmp_path, monkeypatch):
    job = {"version": 1, "kind": "timeline", "out_dir": str(tmp_path / "out"), "timeline": str(tmp_path / "e.otio"),
           "options": {"scheduler": "tcp://10.0.0.7:8786"}}
    monkeypatch.delenv(SCHEDULERS_ENV, raising=False)
    with pytest.raises(InvalidJob) as refused:
        parse_job(job)
    message = str(refused.value)
    assert "\n" not in message and "tcp://10.0.0.7:8786" in message and SCHEDULERS_ENV in message
    monkeypatch.setenv(SCHEDULERS_ENV, "tcp://127.0.0.1:8786, tcp://10.0.0.8:8786")
    with pytest.raises(InvalidJob, match=SCHEDULERS_ENV):
        parse_job(job)
    monkeypatch.setenv(SCHEDULERS_ENV, "tcp://127.0.0.1:8786,tcp://10.0.0.7:8786")
    assert parse_job(job).options.scheduler == "tcp://10.0.0.7:8786"
    with pytest.raises(InvalidJob, match="cores"):
        parse_job(dict(job, options={"workers": len(os.sched_getaffinity(0)) + 1}))


@pytest.mark.parametrize("field, value, match", [
    ("workers", 0, "workers=0"), ("workers", 2.0, "whole number"), ("scheduler", "10.0.0.7:8786", "tcp://HOST:PORT"),
    ("scheduler", "tcp://host:port", "tcp://HOST:PORT"), ("worker_memory_mb", 10, "at least 64"),
    ("worker_path_map", ("/media",), "FROM=TO"), ("worker_path_map", ("=/mnt",), "FROM=TO"),
])
def test_scale_out_options_are_checked(field, value, match):
    with pytest.raises(InvalidParameter, match=match):
        RenderOptions(**{field: value})


def test_path_map_rules():
    rules = parse_path_map(["/media/show=/mnt/show", "/media=/mnt/all/"])
    assert map_path("/media/show/a.mov", rules) == Path("/mnt/show/a.mov")
    assert map_path("/media/showreel/a.mov", rules) == Path("/mnt/all/showreel/a.mov")  # whole components only
    assert map_path("/other/a.mov", rules) == Path("/other/a.mov")


def test_an_unreachable_scheduler_is_a_one_line_error_not_a_hang(edit, tmp_path, monkeypatch):
    from stereofoley.usecases import parallel

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 2.0)
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(parallel.SchedulerUnavailable) as failed:
        render_timeline(edit, tmp_path / "out", options=RenderOptions(**OPTIONS, scheduler=address))
    assert time.monotonic() - t0 < 30
    assert "\n" not in str(failed.value) and address in str(failed.value) and "cannot connect" in str(failed.value)
    assert not mixes(tmp_path / "out")


def test_workers_run_without_the_stack_sampler_and_with_their_thread_limit(dask_cluster):
    """The external worker was started without any StereoFoley config: warm_up stops Dask's profiler there (it
    doubled a clip's CPU time) and sets the thread limits before the pipeline's libraries load."""
    from distributed import Client

    from stereofoley.usecases.parallel import warm_up

    def state(dask_worker=None):
        import os

        import cv2
        return sorted(dask_worker.periodic_callbacks), os.environ.get("OMP_NUM_THREADS"), cv2.getNumThreads()

    with Client(dask_cluster, timeout=30) as client:
        client.run(warm_up, "motion")
        ((callbacks, omp, cv2_threads),) = client.run(state).values()
    assert "profile" not in callbacks and "heartbeat" in callbacks
    assert omp is not None and int(omp) == cv2_threads <= len(os.sched_getaffinity(0))


def test_a_worker_loads_the_model_once_not_once_per_clip(media, dask_cluster, tmp_path):
    from distributed import Client

    weights = REPO / "engine" / "stereofoley" / "data" / "sprites_yolo.pt"

    def count_loads():  # defined here, so it travels by value (the worker cannot import this test module)
        from stereofoley.vision import detect

        real = detect.YoloDetector.__init__
        detect.LOADS = 0

        def init(self, *args, **kwargs):
            detect.LOADS += 1
            real(self, *args, **kwargs)

        detect.YoloDetector.__init__ = init
        detect._MODELS.clear()

    def loads():
        from stereofoley.vision import detect

        return detect.LOADS

    edit = write_edit(tmp_path / "edit.otio", [(media / name, start, 25) for start in (10, 40) for name in ("car.mp4", "walk.mp4")])
    with Client(dask_cluster, timeout=30) as client:
        client.run(count_loads)
        report = render_timeline(edit, tmp_path / "out", options=RenderOptions(
            **dict(OPTIONS, detector="yolo"), weights=str(weights), imgsz=160, scheduler=dask_cluster), write_aaf=False)
        per_worker = client.run(loads)
    assert report["status"] == "ok" and {c["detector"] for c in report["clips"]} == {"yolo"}
    assert list(per_worker.values()) == [1]  # four clips, one worker, one model load
