"""StereoFoley – Send selected clips (DaVinci Resolve: Workspace ▸ Scripts ▸ Utility).

Exports the current timeline as OTIO, finds the clips to sonify, runs the StereoFoley engine on them
(`stereofoley send JOB --status-file STATUS --cancel-file CANCEL`), waits with progress in the Console, then
places the baked stereo WAVs on a new stereo audio track at the clips' record frames (Resolve has no automation
API, so the placement is baked into the audio). Set "mode": "timeline" in stereofoley_config.json to import the
engine's result timeline instead.

Selection, first that finds something: Timeline.GetSelectedClips() (Resolve 21.0.4+); video clips of the
configured colour (default Orange); video clips with a flag of the configured colour (default Orange); video clips
under a timeline marker named "foley"; the clip at the playhead.
Clips are told apart by GetUniqueId().

Cancel: run the script again while it waits (or create the file CANCEL it names in the Console). The engine
stops, nothing is placed.

StereoFoley_Send_selected_clips.lua does the same for the free Resolve (no Python scripting there from 21.1);
both read the one stereofoley_config.json. Runs with Resolve's own Python; needs only the standard library.
Job and status formats: docs/hosts.md.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

CONFIG_NAME = "stereofoley_config.json"  # written by `stereofoley install resolve` next to this script
LOCK_NAME = "send.lock"  # in the work folder's root while a send waits: a second run cancels that send
LOCK_STALE_S = 30  # a lock whose heartbeat is older than this is left over from a send that died
CANCEL_GRACE_S = 20  # after a cancel, how long to wait for the engine to say "cancelled"
# The defaults, the same as the Lua script's M.DEFAULTS (the test suite compares them).
DEFAULTS = {
    "engine": ["stereofoley"],
    "clip_color": "Orange",
    "flag_color": "Orange",
    "marker_name": "foley",
    "mode": "tracks",  # "tracks": WAVs on a new stereo track; "timeline": import the result timeline
    "sources": "synth",
    "detector": "auto",
    "preset": "natural",
    "poll_interval_s": 0.5,
    "timeout_s": 3600.0,
}
TERMINAL_STATES = ("done", "partial", "failed", "cancelled")
AUDIO = 2  # AppendToTimeline mediaType: audio only


class SendError(Exception):
    """Something the user must fix; shown as one line in the Console."""


def load_config(script_dir: Path) -> dict:
    config = dict(DEFAULTS)
    path = script_dir / CONFIG_NAME
    if path.is_file():
        try:
            config.update(json.loads(path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, ValueError, TypeError) as exc:  # TypeError: JSON that is not an object
            raise SendError(f"{path} is not a JSON object of settings ({exc}); fix or remove it") from None
    if os.environ.get("STEREOFOLEY_ENGINE"):
        config["engine"] = shlex.split(os.environ["STEREOFOLEY_ENGINE"])
    return config


# ------------------------------------------------------------------------------------------ selection
def video_items(timeline) -> list:
    return [item for _, item in video_items_with_tracks(timeline)]


def video_items_with_tracks(timeline) -> list[tuple[int, object]]:
    """(1-based video track number, item) for every clip on the video tracks."""
    out = []
    for index in range(1, int(timeline.GetTrackCount("video")) + 1):
        out.extend((index, item) for item in timeline.GetItemListInTrack("video", index) or [])
    return out


def _uid(item) -> str:
    return item.GetUniqueId()


def find_selection(timeline, *, clip_color: str, marker_name: str, flag_color: str = DEFAULTS["flag_color"]) -> tuple[str, list]:
    """(how, timeline items): the first rule of the documented order that finds any video clip."""
    all_video = video_items(timeline)
    getter = getattr(timeline, "GetSelectedClips", None)
    if callable(getter):
        selected = getter() or []
        selected = list(selected.values()) if isinstance(selected, dict) else list(selected)
        video_ids = {_uid(i) for i in all_video}
        selected = [i for i in selected if _uid(i) in video_ids]  # audio clips have no picture to analyse
        if selected:
            return "selected", selected
    coloured = [i for i in all_video if i.GetClipColor() == clip_color]
    if coloured:
        return "colour", coloured
    flagged = [i for i in all_video if flag_color in (i.GetFlagList() or [])]
    if flagged:
        return "flag", flagged
    start = int(timeline.GetStartFrame())
    spans = [
        (start + int(frame), start + int(frame) + max(1, int(info.get("duration", 1))))
        for frame, info in (timeline.GetMarkers() or {}).items()
        if str(info.get("name", "")).strip().lower() == marker_name.lower()
    ]
    under = [i for i in all_video if any(i.GetStart() < e and s < i.GetStart() + i.GetDuration() for s, e in spans)]
    if under:
        return "marker", under
    current = timeline.GetCurrentVideoItem()
    if current:
        return "playhead", [current]
    return "none", []


# ----------------------------------------------------------------------------------------------- job
def timeline_rate(timeline) -> float:
    """Frames per second. Resolve states NTSC rates rounded ("29.97", "23.976"); they are n·1000/1001 exactly, as
    the engine reads them from the exported OTIO (stereofoley.timeline.timemap.rate_fraction: the same rule, and
    the test suite checks both scripts against it)."""
    text = str(timeline.GetSetting("timelineFrameRate")).strip()
    try:
        rate = float(text.split()[0])  # the number, should a suffix such as " DF" follow it
    except (IndexError, ValueError):
        rate = 0.0
    if not rate > 0 or rate == float("inf"):
        raise SendError(f"cannot read the timeline frame rate '{text}'")
    ntsc = round(rate * 1.001) * 1000 / 1001
    if rate != int(rate) and ntsc > 0 and abs(rate - ntsc) <= 0.005:
        return ntsc
    return rate


def build_job(timeline, items, *, otio_path: Path, out_dir: Path, config: dict) -> dict:
    """A `timeline` job: the exported OTIO plus a selection in the engine's terms (every criterion must match):
    the chosen clips' names, their video tracks, and the record range they span (seconds from the timeline
    start, [start, end)). Placement later keeps only results that start where a chosen clip starts."""
    start, rate = int(timeline.GetStartFrame()), timeline_rate(timeline)
    track_of = {_uid(item): number for number, item in video_items_with_tracks(timeline)}
    first = min(int(i.GetStart()) for i in items) - start
    last = max(int(i.GetStart()) + int(i.GetDuration()) for i in items) - start
    return {
        "version": 1,
        "kind": "timeline",
        "timeline": str(otio_path),
        "out_dir": str(out_dir),
        "select": {
            "clips": sorted({i.GetName() for i in items}),
            "tracks": sorted({f"V{track_of[_uid(i)]}" for i in items if _uid(i) in track_of}),
            "range_s": [first / rate, last / rate],
        },
        "options": {"sources": config["sources"], "detector": config["detector"], "preset": config["preset"], "stems": False},
    }


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def start_engine(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_status(status_path: Path) -> dict | None:
    """The status file's content, or None while it is not written yet (the engine writes it atomically)."""
    try:
        return json.loads(status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def wait_for_status(status_path: Path, process, *, poll_interval_s: float, timeout_s: float, log, sleep=time.sleep,
                    clock=time.monotonic, beat=None, cancel_requested=None, on_timeout=None) -> dict:
    """Poll the status file until a terminal state; fail clearly if the engine exits without one. While waiting,
    `beat()` runs once a poll (the lock's heartbeat) and `cancel_requested()` is checked: on a cancel the engine
    is told through the cancel file and the wait goes on (for at most CANCEL_GRACE_S) until it stops."""
    deadline = clock() + timeout_s
    last = None
    cancelled_at = None
    while True:
        status = read_status(status_path)
        if status:
            shown = (status.get("state"), round(float(status.get("progress") or 0.0), 2))
            if shown != last:
                last = shown
                log(f"StereoFoley: {shown[0]} {shown[1] * 100:.0f}% {status.get('message', '')}")
            if status.get("state") in TERMINAL_STATES:
                return status
        code = process.poll()
        if code is not None:  # (a terminal status has returned above)
            # One more read: the last status may have landed just before the exit.
            status = read_status(status_path)
            if status and status.get("state") in TERMINAL_STATES:
                return status
            err = process.stderr.read().decode(errors="replace").strip() if getattr(process, "stderr", None) else ""
            raise SendError(f"the engine exited with code {code} before finishing: {err or 'no message'}")
        if beat:
            beat()
        if cancelled_at is None and cancel_requested and cancel_requested():
            cancelled_at = clock()
            log("StereoFoley: cancelling...")
        if cancelled_at is not None and clock() - cancelled_at > CANCEL_GRACE_S:
            raise SendError(f"cancelled; the engine did not confirm within {CANCEL_GRACE_S} s (nothing placed)")
        if clock() > deadline:
            if on_timeout:
                on_timeout()
            raise SendError(f"no result after {timeout_s:.0f} s; status file {status_path}")
        sleep(poll_interval_s)


# ------------------------------------------------------------------------------------------ placement
def placements(status: dict, rate: float, start_frame: int) -> list[dict]:
    """[{wav, record_frame (absolute, as AppendToTimeline wants), record_duration_frames}] from a status file:
    the timeline report's clips when present (record_start_s is from the timeline start, so the absolute frame
    does not depend on how the exported OTIO states its global start), else the results' record_start_frame
    (absolute, global start included)."""
    report_clips = (status.get("report") or {}).get("clips") or []
    out = []
    for c in report_clips:
        if "record_start_s" in c:
            frame = start_frame + int(round(float(c["record_start_s"]) * rate))
        else:
            frame = int(round(float(c["record_start_frame"])))
        out.append({"wav": c["wav"], "record_frame": frame, "record_duration_frames": int(round(float(c["record_duration_frames"])))})
    if report_clips:
        return out
    for r in status.get("results") or []:
        if "record_start_frame" not in r:
            raise SendError(f"result {r.get('id')} has no record_start_frame; cannot place it")
        out.append({"wav": r["wav"], "record_frame": int(round(float(r["record_start_frame"]))),
                    "record_duration_frames": int(round(float(r["duration_s"]) * rate))})
    return out


def place_on_new_track(project, timeline, places: list[dict], log) -> list:
    """Import the WAVs and append each on a new stereo audio track at its absolute record frame."""
    if not places:
        raise SendError("the engine returned nothing to place")
    media_pool = project.GetMediaPool()
    if not timeline.AddTrack("audio", "stereo"):
        raise SendError("Resolve refused to add a stereo audio track")
    track_index = int(timeline.GetTrackCount("audio"))
    imported = media_pool.ImportMedia(list(dict.fromkeys(p["wav"] for p in places))) or []
    by_path = {os.path.normcase(os.path.abspath(i.GetClipProperty("File Path"))): i for i in imported}
    infos = []
    for p in places:
        item = by_path.get(os.path.normcase(os.path.abspath(p["wav"])))
        if item is None:
            raise SendError(f"Resolve did not import {p['wav']}")
        infos.append({
            "mediaPoolItem": item,
            "startFrame": 0,
            "endFrame": p["record_duration_frames"] - 1,  # inclusive, as Resolve's own scripts use it
            "mediaType": AUDIO,
            "trackIndex": track_index,
            "recordFrame": p["record_frame"],  # absolute: includes the timeline's start frame
        })
    appended = media_pool.AppendToTimeline(infos) or []
    if len(appended) != len(infos):
        raise SendError(f"Resolve placed {len(appended)} of {len(infos)} clips")
    log(f"StereoFoley: placed {len(appended)} clip(s) on audio track {track_index}")
    return appended


# ------------------------------------------------------------------------------------------------ main
def send_selected(resolve, *, config: dict, work_dir: Path, log=print, start=start_engine, sleep=time.sleep,
                  clock=time.monotonic, beat=None, cancel_requested=None) -> dict:
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline() if project else None
    if not timeline:
        raise SendError("open a timeline first")
    how, items = find_selection(timeline, clip_color=config["clip_color"], marker_name=config["marker_name"], flag_color=config["flag_color"])
    if not items:
        raise SendError(
            f"no clips to send: select clips (Resolve 21.0.4+), colour them {config['clip_color']}, "
            f"flag them {config['flag_color']}, "
            f"put a marker named {config['marker_name']!r} over them, or park the playhead on one"
        )
    log(f"StereoFoley: {len(items)} clip(s) ({how})")
    work_dir.mkdir(parents=True, exist_ok=True)
    otio_path = work_dir / "timeline.otio"
    if not timeline.Export(str(otio_path), resolve.EXPORT_OTIO, resolve.EXPORT_NONE):
        raise SendError(f"Resolve could not export the timeline to {otio_path} (OTIO export needs Resolve 18.5+)")
    job = build_job(timeline, items, otio_path=otio_path, out_dir=work_dir / "render", config=config)
    job_path, status_path, cancel_path = work_dir / "job.json", work_dir / "status.json", work_dir / "cancel"
    write_json_atomic(job_path, job)
    status_path.unlink(missing_ok=True)  # a stale status from an earlier run must not be mistaken for this one
    process = start(list(config["engine"]) + ["send", str(job_path), "--status-file", str(status_path), "--cancel-file", str(cancel_path)])
    log(f"StereoFoley: rendering; to cancel, run this script again (or create {cancel_path})")
    status = wait_for_status(
        status_path, process, poll_interval_s=float(config["poll_interval_s"]), timeout_s=float(config["timeout_s"]), log=log,
        sleep=sleep, clock=clock, beat=beat,
        cancel_requested=lambda: cancel_path.exists() or bool(cancel_requested and cancel_requested()),
        on_timeout=lambda: cancel_path.write_text("timeout\n"),  # do not leave the engine running
    )
    if status["state"] == "cancelled":
        raise SendError("cancelled; nothing placed")
    if status["state"] == "failed":
        raise SendError(f"the engine stopped (failed): {status.get('error') or status.get('message', '')}")
    if config["mode"] == "timeline":
        out = (status.get("report") or {}).get("timeline_out")
        if not out:
            raise SendError("the engine returned no timeline to import")
        name = f"{timeline.GetName()} StereoFoley"
        if not project.GetMediaPool().ImportTimelineFromFile(out, {"timelineName": name, "importSourceClips": True}):
            raise SendError(f"Resolve could not import {out}")
        log(f"StereoFoley: imported timeline {name!r}")
    else:
        places = placements(status, timeline_rate(timeline), int(timeline.GetStartFrame()))
        chosen = {int(i.GetStart()) for i in items}
        extra = [p for p in places if p["record_frame"] not in chosen]
        for p in extra:
            log(f"StereoFoley: not placing {p['wav']}: it starts at frame {p['record_frame']}, where no chosen clip starts")
        place_on_new_track(project, timeline, [p for p in places if p["record_frame"] in chosen], log)
    return status


# ----------------------------------------------------------------------------------------- lock and cancel
def read_lock(lock_path: Path, now: float) -> dict | None:
    """The running send's lock ({work_dir, beat}), or None when there is none or it is stale."""
    try:
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(lock, dict) or not isinstance(lock.get("work_dir"), str):
        return None
    if now - float(lock.get("beat") or 0) > LOCK_STALE_S:
        return None  # left over from a send that died
    return lock


def write_lock(lock_path: Path, work_dir: Path, now: float) -> None:
    write_json_atomic(lock_path, {"work_dir": str(work_dir), "beat": now})


def get_resolve():
    resolve = globals().get("resolve")  # predefined when run from the Workspace ▸ Scripts menu
    if resolve:
        return resolve
    import DaVinciResolveScript as dvr_script

    return dvr_script.scriptapp("Resolve")


def main(*, script_dir: Path | None = None, log=print, start=start_engine, sleep=time.sleep, clock=time.time) -> int:
    """0: done, or a cancel request delivered to the running send; 1: a problem, shown as one line."""
    if script_dir is None:
        script_dir = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    try:
        config = load_config(script_dir)
        root = Path(config.get("work_dir") or Path.home() / "StereoFoley")
        root.mkdir(parents=True, exist_ok=True)
        lock_path = root / LOCK_NAME
        running = read_lock(lock_path, clock())
        if running:
            Path(running["work_dir"]).mkdir(parents=True, exist_ok=True)  # (it may not have got that far yet)
            write_json_atomic(Path(running["work_dir"]) / "cancel", {"cancelled": "from a second run"})
            log(f"StereoFoley: asked the send in {running['work_dir']} to cancel")
            return 0
        work_dir = root / time.strftime("send-%Y%m%d-%H%M%S")
        write_lock(lock_path, work_dir, clock())
        try:
            send_selected(get_resolve(), config=config, work_dir=work_dir, log=log, start=start, sleep=sleep, clock=clock,
                          beat=lambda: write_lock(lock_path, work_dir, clock()))
        finally:
            lock = read_lock(lock_path, clock())
            if lock and lock["work_dir"] == str(work_dir):
                lock_path.unlink()  # ours: this send is over
    except SendError as exc:
        log(f"StereoFoley: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
