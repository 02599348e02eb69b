"""Job files (docs/contracts.md §4), running jobs in-process, the worker pool, and the clips/timeline contract plumbing."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from stereofoley.cli import main
from stereofoley.errors import InvalidJob, PathNotAllowed
from stereofoley.files import safe_name
from stereofoley.jobs import JobPool, parse_job, read_job, run_job
from stereofoley.spatial.trajectory import Trajectory

from .conftest import spatialize_job


def cli_render(root: Path, item: dict, name: str) -> bytes:
    out = root / name
    assert main(["spatialize", item["source"], "--trajectory", item["trajectory"], "-o", str(out)]) == 0
    return out.read_bytes()


def test_spatialize_job_equals_cli_bytes_and_writes_status(root):
    job = spatialize_job(root, root / "out", n_items=2)
    status_path = root / "status.json"
    status = run_job(parse_job(job), status_path=status_path)
    assert status["state"] == "done" and status["progress"] == 1.0
    assert json.loads(status_path.read_text()) == status
    for i, result in enumerate(status["results"]):
        assert Path(result["wav"]).read_bytes() == cli_render(root, job["items"][i], f"cli{i}.wav")
        assert result["duration_s"] == pytest.approx(0.5)
        obj = result["objects"][0]
        pan = np.array(obj["curves"]["pan"])
        assert pan[0].tolist() == [0.0, -0.8] and pan[-1].tolist() == [0.5, 0.7]
        assert set(obj["curves"]) == {"pan", "gain_db"}


def test_inline_trajectory_points(root):
    job = spatialize_job(root, root / "out")
    job["items"][0]["trajectory"] = json.loads(Path(job["items"][0]["trajectory"]).read_text())
    status = run_job(parse_job(job))
    ref = spatialize_job(root, root / "ref")
    assert Path(status["results"][0]["wav"]).read_bytes() == cli_render(root, ref["items"][0], "cli.wav")


@pytest.mark.parametrize("change, match", [
    ({"version": 2}, "version"),
    ({"kind": "magic"}, "kind"),
    ({"out_dir": "relative/out"}, "absolute"),
    ({"items": []}, "non-empty"),
    ({"options": {"preset": "nope"}}, "preset"),
    ({"options": {"colour": 1}}, "unknown option"),
    ({"options": {"stems": "yes"}}, "stems"),
    ({"options": {"settings": {"stereo_width": 3.0}}}, "stereo_width"),
])
def test_bad_jobs_are_refused_with_the_reason(root, change, match):
    job = {**spatialize_job(root, root / "out"), **change}
    with pytest.raises((InvalidJob, ValueError), match=match):
        parse_job(job)


def test_duplicate_ids_and_clip_ranges(root):
    job = spatialize_job(root, root / "out", n_items=2)
    job["items"][1]["id"] = job["items"][0]["id"]
    with pytest.raises(InvalidJob, match="twice"):
        parse_job(job)
    clips = {"version": 1, "kind": "clips", "out_dir": str(root), "clips": [{"id": 1, "media": str(root / "v.mp4"),
                                                                             "start_s": 2.0, "end_s": 1.0}]}
    with pytest.raises(InvalidJob, match="after"):
        parse_job(clips)


def test_roots_apply_to_every_path(root, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    job = spatialize_job(root, root / "out")
    parse_job(job, roots=[root])
    job["items"][0]["source"] = str(other / "x.wav")
    with pytest.raises(PathNotAllowed):
        parse_job(job, roots=[root])
    job = spatialize_job(root, str(root / "out" / ".." / ".." / "escape"))
    with pytest.raises(PathNotAllowed):
        parse_job(job, roots=[root])


def test_item_ids_cannot_escape_out_dir(root):
    assert "/" not in safe_name("../../etc/passwd") and not safe_name("..").startswith(".")
    job = spatialize_job(root, root / "out")
    job["items"][0]["id"] = "../../evil"
    status = run_job(parse_job(job))
    wav = Path(status["results"][0]["wav"])
    assert wav.parent == root / "out"


def test_existing_output_is_not_overwritten_without_option(root):
    job = spatialize_job(root, root / "out")
    assert run_job(parse_job(job))["state"] == "done"
    again = run_job(parse_job(job))
    assert again["state"] == "failed" and "already exists" in again["error"]
    job["options"]["overwrite"] = True
    assert run_job(parse_job(job))["state"] == "done"


def test_partial_when_one_item_fails(root):
    job = spatialize_job(root, root / "out", n_items=2)
    job["items"][1]["source"] = str(root / "missing.wav")
    status = run_job(parse_job(job))
    assert status["state"] == "partial"
    assert [r["id"] for r in status["results"]] == ["item0"]
    assert status["skipped"][0]["id"] == "item1" and "not found" in status["skipped"][0]["reason"]
    job["out_dir"] = str(root / "out2")  # the first run's WAV exists: a rerun into it would fail, not be partial
    assert main(["send", "--local", str(_write(root / "job.json", job))]) == 3


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_send_local_writes_status_file(root, capsys):
    job_path = _write(root / "job.json", spatialize_job(root, root / "out"))
    assert main(["send", "--local", str(job_path), "--status-file", str(root / "s.json"), "--json"]) == 0
    status = json.loads((root / "s.json").read_text())
    assert status["state"] == "done" and status["version"] == 1
    assert json.loads(capsys.readouterr().out)["job_id"] == status["job_id"]


def test_pool_cancels_queued_and_running_jobs(root):
    pool = JobPool(workers=1)
    try:
        gate = threading.Event()
        long_job = parse_job(spatialize_job(root, root / "a", n_items=6))
        seen = []

        def listener(job_id, status):
            seen.append(status["state"])
            if status["state"] == "running" and status["progress"] > 0:
                gate.set()

        a = pool.submit(long_job, listener=listener)
        b = pool.submit(parse_job(spatialize_job(root, root / "b")))
        assert pool.cancel(b) is True
        assert gate.wait(30)
        assert pool.cancel(a) is True
        sa, sb = pool.wait(a, 60), pool.wait(b, 60)
        assert sb["state"] == "cancelled" and not (root / "b").exists()
        assert sa["state"] == "cancelled"
        done = sorted(p.name for p in (root / "a").iterdir())
        assert 1 <= len(done) < 6 and all(name.endswith(".wav") and ".part" not in name for name in done)
        assert pool.cancel(a) is False  # already final
        with pytest.raises(InvalidJob, match="unknown job"):
            pool.status("nope")
    finally:
        pool.shutdown()


# --- the clips and timeline kinds, against the contract functions (fake modules stand in for other branches) ---

def _fake_mixer(calls):
    """A clip mixer (the injection point of run_job) that records what it was asked for."""
    from stereofoley.spatial.mix import SoundObject, render_mix
    from stereofoley.usecases.clip import ClipMix

    def mix(request, options, progress=None):
        calls.append((str(request.media_path), request.media_start_s, request.media_end_s, options.detector,
                      options.max_objects))
        n = request.n_samples
        duration = request.media_end_s - request.media_start_s
        traj = Trajectory(times_s=[0.0, duration], pan=[-0.5, 0.5], distance_m=[2.0, 2.0], gain_db=[0.0, 0.0])
        source = np.sin(np.arange(n) * 0.05).astype(np.float32) * 0.2
        for k in range(5):
            if progress is not None:
                progress(k / 4)
        obj = SoundObject("car", source, traj, class_name="car")
        return ClipMix(render_mix([obj], options.settings, n), (obj,))

    return mix


def test_clips_kind_calls_the_clip_mixer_per_contract(root):
    from stereofoley.evaluation import synthetic

    calls = []
    media = root / "clip.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0, width=64, height=36, fps=10), media)
    job = {"version": 1, "kind": "clips", "out_dir": str(root / "out"),
           "clips": [{"id": "c1", "media": str(media), "start_s": 1.0, "end_s": 1.5, "name": "Clip 1"}],
           "options": {"stems": True, "detector": "motion", "max_objects": 2}}
    progress = []
    status = run_job(parse_job(job), listener=lambda _id, s: progress.append(s["progress"]), mixer=_fake_mixer(calls))
    assert status["state"] == "done", (status.get("error"), status.get("skipped"))
    assert calls == [(str(media), 1.0, 1.5, "motion", 2)]
    result = status["results"][0]
    assert result["duration_s"] == 0.5
    obj = result["objects"][0]
    assert obj["class"] == "car" and Path(obj["source_wav"]).is_file()
    assert obj["curves"]["pan"][0] == [0.0, -0.5] and obj["curves"]["pan"][-1] == [0.5, 0.5]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(set(progress)) >= 4


def test_timeline_kind_maps_the_report(root, monkeypatch):
    import stereofoley.usecases.timeline as timeline_module
    from stereofoley.config import preset
    from stereofoley.options import RenderOptions
    from stereofoley.timeline import Selection

    report = {"ok": True, "status": "partial", "timeline_out": str(root / "out" / "t.otio"),
              "clips": [{"id": "a", "name": "A", "wav": str(root / "out" / "a.wav"), "record_start_s": 2.0,
                         "record_duration_s": 1.5, "record_start_frame": 48, "record_duration_frames": 36, "rate": 24,
                         "media": "/m.mov", "media_start_s": 0.0, "media_end_s": 1.5,
                         "objects": [{"name": "dog", "class": "dog", "curves": {"pan": [[0, 0]], "gain_db": [[0, -3]]}}]}],
              "skipped": [{"id": "b", "name": "B", "reason": "media offline"}], "timings": {}}
    seen = {}

    def render_timeline(path, out_dir, *, selection=None, options=None, progress=None, **injected):
        seen.update(path=str(path), out_dir=str(out_dir), selection=selection, options=options)
        progress(0.5)
        return report

    monkeypatch.setattr(timeline_module, "render_timeline", render_timeline)
    tl = root / "t.otio"
    tl.write_text("{}")
    job = {"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(tl),
           "select": {"tracks": "V1", "markers": ["foley"], "range_s": [1, 5]}, "options": {"preset": "dry", "stems": True}}
    status = run_job(parse_job(job))
    assert status["state"] == "partial" and status["report"] == report
    assert status["results"] == [{"id": "a", "wav": report["clips"][0]["wav"], "duration_s": 1.5,
                                  "record_start_frame": 48, "objects": report["clips"][0]["objects"]}]
    assert seen["selection"] == Selection(tracks=("V1",), markers=("foley",), range_s=(1.0, 5.0))
    assert isinstance(seen["options"], RenderOptions)
    assert seen["options"].settings == preset("dry") and seen["options"].stems is True


def test_timeline_job_with_an_unknown_selection_field_fails_clearly(root):
    tl = root / "t.otio"
    tl.write_text("{}")
    job = parse_job({"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(tl),
                     "select": {"track": "V1"}})
    status = run_job(job)
    assert status["state"] == "failed" and "unknown field(s) track" in status["error"]


def test_timeline_job_with_a_non_numeric_range_fails_clearly(root):
    tl = root / "t.otio"
    tl.write_text("{}")
    job = parse_job({"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(tl),
                     "select": {"range_s": ["1:00", 5]}})
    status = run_job(job)
    assert status["state"] == "failed"
    assert status["error"] == "InvalidJob: select.range_s must be [start_s, end_s] in seconds, got ['1:00', 5]"


def test_timeline_job_renders_a_real_timeline(root):
    """A real timeline job: generated car video, one-clip OTIO, the real render_timeline and vision pipeline."""
    from fractions import Fraction

    import opentimelineio as otio
    import soundfile as sf

    from stereofoley.evaluation import synthetic

    video = root / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=1.0, width=160, height=90, fps=Fraction(25)), video)
    clip = otio.schema.Clip(name="car", media_reference=otio.schema.ExternalReference(target_url=str(video)),
                            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(25, 25)))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(10, 25))))
    track.append(clip)
    path = root / "edit.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="edit", tracks=[track]), str(path))
    job = parse_job({"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(path),
                     "options": {"detector": "motion", "sources": "synth", "stems": True}})
    status = run_job(job)
    assert status["state"] == "done", (status.get("error"), status.get("skipped"))
    (result,) = status["results"]
    assert sf.info(result["wav"]).frames == 48000 and result["record_start_frame"] == 10
    assert result["objects"] and all(Path(o["source_wav"]).is_file() for o in result["objects"])


def test_cancel_inside_a_render(root, monkeypatch):
    import stereofoley.usecases.timeline as timeline_module

    cancel = threading.Event()

    def render_timeline(path, out_dir, *, selection=None, options=None, progress=None, **injected):
        progress(0.1)
        cancel.set()
        progress(0.2)  # raises JobCancelled
        raise AssertionError("not reached")

    monkeypatch.setattr(timeline_module, "render_timeline", render_timeline)
    tl = root / "t.otio"
    tl.write_text("{}")
    job = parse_job({"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(tl)})
    assert run_job(job, cancel=cancel)["state"] == "cancelled"


def test_read_job_errors(root):
    with pytest.raises(InvalidJob, match="not found"):
        read_job(root / "missing.json")
    (root / "bad.json").write_text("{nope")
    with pytest.raises(InvalidJob, match="not valid JSON"):
        read_job(root / "bad.json")
    assert main(["send", "--local", str(root / "bad.json")]) == 1


def test_clips_job_uses_the_libraries_it_names(root):
    """A job's options.libraries reach the library provider: a library of one 523 Hz file is what is heard."""
    from fractions import Fraction

    import soundfile as sf

    from stereofoley.evaluation import synthetic

    video = root / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=1.0, width=160, height=90, fps=Fraction(25)), video)
    library = root / "lib"
    library.mkdir()
    t = np.arange(96000) / 48000
    sf.write(library / "VEHCar_Sedan Pass_Test_Mic.wav", (0.3 * np.sin(2 * np.pi * 523.0 * t)).astype(np.float32), 48000)
    job = parse_job({"version": 1, "kind": "clips", "out_dir": str(root / "out"),
                     "clips": [{"id": "c", "media": str(video), "start_s": 0.0, "end_s": 1.0}],
                     "options": {"detector": "motion", "sources": "library", "libraries": [str(library)]}})
    status = run_job(job)
    assert status["state"] == "done", (status.get("error"), status.get("skipped"))
    audio, rate = sf.read(status["results"][0]["wav"], always_2d=True)
    spectrum = np.abs(np.fft.rfft(audio.sum(axis=1)))
    assert abs(np.argmax(spectrum) * rate / audio.shape[0] - 523.0) < 2.0
    with pytest.raises(InvalidJob, match="libraries"):
        parse_job({"version": 1, "kind": "clips", "out_dir": str(root / "out"), "clips": [],
                   "options": {"libraries": "not a list"}})


def test_send_cancel_file_cancels_before_and_during_the_job(root):
    """`send --cancel-file F`: the host scripts' way to cancel. F there at the start: nothing is rendered; F
    created while the job runs: it stops with the items finished so far and the status says cancelled."""
    job_path = _write(root / "job.json", spatialize_job(root, root / "out", n_items=20, seconds=2.0))
    cancel = root / "cancel"
    cancel.write_text("")
    assert main(["send", "--local", str(job_path), "--status-file", str(root / "s0.json"), "--cancel-file", str(cancel)]) == 1
    status = json.loads((root / "s0.json").read_text())
    assert status["state"] == "cancelled" and status["results"] == []
    assert not list((root / "out").glob("*.wav")) if (root / "out").exists() else True

    cancel.unlink()
    status_path = root / "s1.json"
    done = []
    worker = threading.Thread(target=lambda: done.append(main(["send", "--local", str(job_path), "--status-file", str(status_path),
                                                                  "--cancel-file", str(cancel)])))
    worker.start()
    deadline = time.monotonic() + 60
    finished_when_asked = 0
    while time.monotonic() < deadline and not finished_when_asked:  # wait for the first finished item, then cancel
        try:
            finished_when_asked = len(json.loads(status_path.read_text())["results"])
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    cancel.write_text("")
    worker.join(60)
    status = json.loads(status_path.read_text())
    assert done == [1] and status["state"] == "cancelled", status["state"]
    assert 1 <= finished_when_asked <= len(status["results"]) < 20  # stopped well before the end
