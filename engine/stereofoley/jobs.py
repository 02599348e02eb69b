"""Jobs: job files written by host shims, run by the engine, with a status file kept up to date.

The job and status JSON are described, with their version, in docs/contracts.md. In short: a job is
{"version": 1, "kind": "clips" | "timeline" | "spatialize", "out_dir": ABS, "options": {...}, ...}; its options
are `stereofoley.options.RenderOptions` by name (plus "preset" and "settings"), exactly what the CLI takes.
Every kind runs through a use case (`stereofoley.usecases`), the same code as the CLI.

Every WAV is written by temp file + rename, so a reader never sees half a file; a cancelled job keeps the results it
finished and writes nothing more.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .config import user_cache_dir
from .errors import InvalidJob, JobCancelled, StereoFoleyError
from .files import (check_read, check_status_target, clean_stale_parts, confinement, mkdir_confined, read_json,
                    resolve_under_roots, safe_name, unique_names, write_text_atomic)
from .options import RenderOptions
from .spatial.automation import GAIN_DB_MAX_ERROR, PAN_MAX_ERROR, curves_for
from .spatial.trajectory import Trajectory, read_trajectory
from .timeline.plan import Selection
from .usecases import timeline as timeline_usecase
from .usecases.parallel import usable_cores
from .usecases.clip import ClipMixer, render_clip_files, request_for_media
from .usecases.spatialize import spatialize_file

JOB_VERSION = 1
KINDS = ("clips", "timeline", "spatialize")
FINAL_STATES = ("done", "partial", "failed", "cancelled")
Listener = Callable[[str, dict], None]


# ------------------------------------------------------------------------------------------------ job files

@dataclass(frozen=True)
class ClipItem:
    id: str
    media: Path
    start_s: float | None
    end_s: float | None
    name: str


@dataclass(frozen=True)
class SpatializeItem:
    id: str
    source: Path
    trajectory: Path | tuple  # a file, or the points themselves
    name: str


@dataclass(frozen=True)
class Job:
    kind: str
    out_dir: Path
    items: tuple = ()
    timeline: Path | None = None
    select: Mapping[str, Any] = field(default_factory=dict)
    options: RenderOptions = RenderOptions()
    # The roots a server confines the job to (None: not confined). Every file the job opens or writes, including
    # the media a timeline names, is checked against them at the moment it is opened (files.confinement).
    roots: tuple[Path, ...] | None = None


def _abs_path(value: Any, what: str, roots: Iterable[Path] | None) -> Path:
    if not isinstance(value, str) or not value:
        raise InvalidJob(f"{what} must be a non-empty string path, got {value!r}")
    if not os.path.isabs(value):
        raise InvalidJob(f"{what}={value!r} must be an absolute path")
    return Path(value) if roots is None else resolve_under_roots(value, roots)


def _time(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidJob(f"{what}={value!r} must be a finite number of seconds ≥ 0")
    return float(value)


def _item_id(value: Any, index: int, seen: set) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
        raise InvalidJob(f"item {index}: id must be a non-empty string or integer, got {value!r}")
    item_id = str(value)
    if item_id in seen:
        raise InvalidJob(f"item {index}: id {item_id!r} is used twice")
    seen.add(item_id)
    return item_id


def parse_job(data: Any, *, roots: Iterable[Path] | None = None) -> Job:
    """Validate a job (a dict from JSON). With `roots`, every path must lie under one of them (server use)."""
    if not isinstance(data, Mapping):
        raise InvalidJob(f"a job is a JSON object, got {type(data).__name__}")
    if data.get("version") != JOB_VERSION:
        raise InvalidJob(f"job version {data.get('version')!r} is not supported; expected {JOB_VERSION}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidJob(f"job kind {kind!r} is not one of {', '.join(KINDS)}")
    roots = tuple(roots) if roots is not None else None
    out_dir = _abs_path(data.get("out_dir"), "out_dir", roots)
    options = _parse_options(data.get("options", {}), roots)
    if options.resume and kind != "timeline":  # said rather than ignored
        raise InvalidJob(f"option resume applies to timeline jobs only, not to a {kind} job")
    seen: set = set()
    if kind == "clips":
        clips = data.get("clips")
        if not isinstance(clips, list) or not clips:
            raise InvalidJob("a clips job needs a non-empty list 'clips'")
        items = []
        for i, clip in enumerate(clips):
            if not isinstance(clip, Mapping):
                raise InvalidJob(f"clip {i} is not an object")
            start, end = _time(clip.get("start_s"), f"clip {i} start_s"), _time(clip.get("end_s"), f"clip {i} end_s")
            if start is not None and end is not None and end <= start:
                raise InvalidJob(f"clip {i}: end_s={end} must be after start_s={start}")
            item_id = _item_id(clip.get("id", i), i, seen)
            items.append(ClipItem(item_id, _abs_path(clip.get("media"), f"clip {i} media", roots), start, end,
                                  str(clip.get("name", item_id))))
        return Job(kind, out_dir, tuple(items), options=options, roots=roots)
    if kind == "timeline":
        select = data.get("select", {})
        if not isinstance(select, Mapping):
            raise InvalidJob("'select' must be an object")
        return Job(kind, out_dir, timeline=_abs_path(data.get("timeline"), "timeline", roots), select=dict(select),
                   options=options, roots=roots)
    entries = data.get("items")
    if not isinstance(entries, list) or not entries:
        raise InvalidJob("a spatialize job needs a non-empty list 'items'")
    items = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise InvalidJob(f"item {i} is not an object")
        traj = entry.get("trajectory")
        trajectory = tuple(traj) if isinstance(traj, list) else _abs_path(traj, f"item {i} trajectory", roots)
        item_id = _item_id(entry.get("id", i), i, seen)
        items.append(SpatializeItem(item_id, _abs_path(entry.get("source"), f"item {i} source", roots), trajectory,
                                    str(entry.get("name", item_id))))
    return Job(kind, out_dir, tuple(items), options=options, roots=roots)


# Options that name files or folders: absolute, and under the roots when a server runs the job.
_PATH_OPTIONS = ("weights", "cache_dir", "class_map", "sound_map")
_PATH_LIST_OPTIONS = ("libraries", "media_roots", "tracks")


def _parse_options(raw: Any, roots: Iterable[Path] | None = None) -> RenderOptions:
    if not isinstance(raw, Mapping):
        raise InvalidJob("'options' must be an object")
    try:
        options = RenderOptions.from_mapping(raw)
    except InvalidJob:
        raise
    except StereoFoleyError as exc:
        raise InvalidJob(f"options: {exc}") from None
    _check_scale_out(options)
    changes = {}
    for name in _PATH_OPTIONS:
        if getattr(options, name) is not None:
            changes[name] = str(_abs_path(getattr(options, name), f"options.{name}", roots))
    for name in _PATH_LIST_OPTIONS:
        changes[name] = tuple(str(_abs_path(v, f"options.{name}[{i}]", roots)) for i, v in enumerate(getattr(options, name)))
    changes["sounds"] = tuple(f"{key}={_abs_path(file, f'options.sounds[{i}]', roots)}"
                              for i, (key, _, file) in enumerate(v.partition("=") for v in options.sounds))
    return dataclasses.replace(options, **changes)


SCHEDULERS_ENV = "STEREOFOLEY_DASK_SCHEDULERS"  # comma-separated tcp://HOST:PORT a job may send its clips to


def allowed_schedulers() -> tuple[str, ...]:
    return tuple(s.strip() for s in os.environ.get(SCHEDULERS_ENV, "").split(",") if s.strip())


def _check_scale_out(options: RenderOptions) -> None:
    """A job sends its clips (and with them media paths and options) to a remote cluster only where the person
    running the engine listed that cluster; local workers are capped at this machine's cores."""
    if options.scheduler is not None and options.scheduler not in allowed_schedulers():
        raise InvalidJob(f"options.scheduler={options.scheduler[:80]!r} is not allowed: a job may use only the "
                         f"schedulers listed in ${SCHEDULERS_ENV} (comma-separated), and it lists "
                         f"{', '.join(allowed_schedulers()) or 'none'}")
    cores = usable_cores()
    if options.workers > cores:
        raise InvalidJob(f"options.workers={options.workers} is more than this machine's {cores} cores")


def read_job(path: str | os.PathLike, *, roots: Iterable[Path] | None = None) -> Job:
    path = Path(path)
    if path.is_file() and path.stat().st_size > 16 * 1024 * 1024:
        raise InvalidJob(f"job file {path} is larger than 16 MiB")
    return parse_job(read_json(path, what="job file", error=InvalidJob), roots=roots)


# ------------------------------------------------------------------------------------------------ status

class _Reporter:
    """The status of one job: every change bumps `seq`, rewrites the status file atomically (progress-only changes
    at most every 50 ms) and tells the listener, in that order, under one lock so listeners see changes in order."""

    def __init__(self, job: Job, job_id: str, status_path: Path | None, listener: Listener | None) -> None:
        self.status_path, self.listener, self.job_id, self.roots = status_path, listener, job_id, job.roots
        if status_path is not None:  # never replace a file other than an earlier status (raises OutputExists)
            with confinement(self.roots):
                check_status_target(status_path)
        self.lock = threading.Lock()
        self.seq = 0
        self.last_write = 0.0
        self.status: dict[str, Any] = {"version": JOB_VERSION, "job_id": job_id, "kind": job.kind, "state": "queued",
                                       "progress": 0.0, "message": "queued", "results": [], "skipped": []}

    def update(self, *, force_write: bool = True, **changes: Any) -> None:
        with self.lock:
            if "progress" in changes:  # progress never goes backwards
                changes["progress"] = min(1.0, max(float(self.status["progress"]), float(changes["progress"])))
            self.status.update(changes)
            self.seq += 1
            now = time.monotonic()
            if self.status_path is not None and (force_write or now - self.last_write >= 0.05):
                try:
                    with confinement(self.roots):
                        write_text_atomic(self.status_path, json.dumps(self.status, indent=1), overwrite=True)
                except (OSError, StereoFoleyError) as exc:  # a full disk or a swapped folder: stop writing it
                    self.status["status_file_error"] = f"{type(exc).__name__}: {exc}"
                    self.status_path = None
                self.last_write = now
            if self.listener is not None:
                try:
                    self.listener(self.job_id, {**self.snapshot_unlocked(), "seq": self.seq})
                except Exception:  # a listener that went away must not stop the job
                    pass

    def snapshot_unlocked(self) -> dict:
        return json.loads(json.dumps(self.status))

    def snapshot(self) -> dict:
        with self.lock:
            return self.snapshot_unlocked()


# ------------------------------------------------------------------------------------------------ running

def run_job(job: Job, *, job_id: str | None = None, status_path: str | os.PathLike | None = None,
            listener: Listener | None = None, cancel: threading.Event | None = None,
            mixer: ClipMixer | None = None, _reporter: _Reporter | None = None) -> dict:
    """Run a job to the end in this thread and return its final status (also written to `status_path`).
    mixer: the clip mixer (default: the vision pipeline, `usecases.clip.mix_clip`); tests inject their own."""
    job_id = job_id or uuid.uuid4().hex[:12]
    reporter = _reporter or _Reporter(job, job_id, Path(status_path) if status_path else None, listener)
    cancel = cancel or threading.Event()
    try:
        if cancel.is_set():
            raise JobCancelled("cancelled before it started")
        reporter.update(state="running", message="running")
        with confinement(_run_roots(job)):  # every file this thread opens from here on is checked against the roots
            if job.kind == "timeline":
                _run_timeline(job, reporter, cancel, mixer)
            else:
                _run_items(job, reporter, cancel, mixer)
    except JobCancelled:
        reporter.update(state="cancelled", message="cancelled")
    except StereoFoleyError as exc:
        reporter.update(state="failed", message=str(exc), error=f"{type(exc).__name__}: {exc}")
    except (OSError, MemoryError, ArithmeticError) as exc:  # a full disk, a huge allocation: name it
        reporter.update(state="failed", message=f"{type(exc).__name__}: {exc}", error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # an engine bug: report it in the status file instead of leaving "running" forever
        reporter.update(state="failed", message=f"internal error: {exc}", error=f"{type(exc).__name__}: {exc}")
    return reporter.snapshot()


def _run_roots(job: Job) -> tuple[Path, ...] | None:
    """The job's roots, plus the engine's own cache folder (analysis cache, detector weights) when the job names
    none: the engine's files, not the job's."""
    if job.roots is None:
        return None
    own = (user_cache_dir("vision").parent,) if job.options.cache_dir is None else ()
    return tuple(job.roots) + own


def _progress_callback(reporter: _Reporter, cancel: threading.Event, lo: float, hi: float, label: str):
    """A progress callback for render functions: accepts (fraction) or (done, total), and cancels the render."""

    def progress(*args: Any, **kwargs: Any) -> None:
        if cancel.is_set():
            raise JobCancelled("cancelled")
        numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        if len(numbers) >= 2 and numbers[1] > 0:
            fraction = numbers[0] / numbers[1]
        elif numbers:
            fraction = numbers[0]
        else:
            return
        fraction = min(1.0, max(0.0, float(fraction)))
        reporter.update(progress=lo + (hi - lo) * fraction, message=label, force_write=False)

    return progress


def _run_items(job: Job, reporter: _Reporter, cancel: threading.Event, mixer: ClipMixer | None) -> None:
    n = len(job.items)
    mkdir_confined(job.out_dir, "out_dir")
    cleaned = clean_stale_parts(job.out_dir)
    names = unique_names(item.id for item in job.items)
    renamed = {i: names[i] for i in names if names[i] != safe_name(i)}
    if cleaned or renamed:
        reporter.update(cleaned_temp_files=[str(p) for p in cleaned],
                        renamed_outputs=[{"id": i, "file_stem": s} for i, s in renamed.items()])
    ok = partly = 0  # partly: rendered from media that decodes only partly (the result carries a warning)
    for i, item in enumerate(job.items):
        if cancel.is_set():
            raise JobCancelled("cancelled")
        label = f"{item.name} ({i + 1}/{n})"
        reporter.update(progress=i / n, message=label)
        callback = _progress_callback(reporter, cancel, i / n, (i + 1) / n, label)
        try:
            if job.kind == "spatialize":
                result = _spatialize_item(item, job, names[item.id])
            else:
                result = _render_clip_item(item, job, callback, mixer, names[item.id])
        except JobCancelled:
            raise
        except (StereoFoleyError, OSError, MemoryError, ArithmeticError) as exc:
            reporter.update(skipped=reporter.snapshot()["skipped"] + [{"id": item.id, "name": item.name, "reason": str(exc)}])
            continue
        ok += 1
        partly += bool(result.get("warning"))
        reporter.update(progress=(i + 1) / n, message=label, results=reporter.snapshot()["results"] + [result])
    state = "done" if ok == n and not partly else ("partial" if ok else "failed")
    message = f"{ok} of {n} rendered" + (f", {partly} from media that decodes only partly" if partly else "")
    extra = {} if ok else {"error": reporter.snapshot()["skipped"][0]["reason"] if n else "nothing to render"}
    reporter.update(state=state, progress=1.0, message=message, **extra)


def _spatialize_item(item: SpatializeItem, job: Job, stem: str) -> dict:
    """Exactly `stereofoley spatialize SOURCE --trajectory T -o OUT` (the same use case)."""
    settings = job.options.settings
    if isinstance(item.trajectory, tuple):
        trajectory = Trajectory.from_points(list(item.trajectory), settings)
    else:
        trajectory = read_trajectory(check_read(item.trajectory, "trajectory"), settings)
    out = job.out_dir / f"{stem}.wav"
    summary = spatialize_file(item.source, trajectory, out, settings=settings, overwrite=job.options.overwrite,
                              name=item.name)
    curves = curves_for(trajectory, settings)
    obj = {"name": item.name, "class": "source",
           "curves": {"pan": curves["pan"].simplified(PAN_MAX_ERROR).to_json(),
                      "gain_db": curves["gain_db"].simplified(GAIN_DB_MAX_ERROR).to_json()}}
    return {"id": item.id, "wav": summary["output"], "duration_s": summary["duration_s"], "objects": [obj]}


def _render_clip_item(item: ClipItem, job: Job, progress, mixer: ClipMixer | None, stem: str) -> dict:
    """Exactly `stereofoley clip MEDIA --start S --end E -o OUT_DIR/ID.wav` (the same use case)."""
    request = request_for_media(item.media, start_s=item.start_s, end_s=item.end_s, clip_id=item.id, name=item.name)
    result = render_clip_files(request, job.options, job.out_dir / f"{stem}.wav", mixer=mixer,
                               progress=progress)
    return result.to_json()


def _run_timeline(job: Job, reporter: _Reporter, cancel: threading.Event, mixer: ClipMixer | None) -> None:
    check_read(job.timeline, "timeline")
    mkdir_confined(job.out_dir, "out_dir")
    cleaned = clean_stale_parts(job.out_dir)
    if cleaned:
        reporter.update(cleaned_temp_files=[str(p) for p in cleaned])
    report = timeline_usecase.render_timeline(job.timeline, job.out_dir, selection=_selection(job.select),
                                              options=job.options, mixer=mixer,
                                              progress=_progress_callback(reporter, cancel, 0.0, 1.0, "timeline"))
    if cancel.is_set():
        raise JobCancelled("cancelled")
    results = []
    for clip in report.get("clips", []):
        result = {"id": clip["id"], "wav": clip["wav"], "duration_s": clip.get("record_duration_s"),
                  "objects": clip.get("objects", [])}
        if "record_start_frame" in clip:
            result["record_start_frame"] = clip["record_start_frame"]
        results.append(result)
    skipped = [dict(s) for s in report.get("skipped", [])]
    state = "partial" if report.get("status") == "partial" or (skipped and results) else ("done" if results else "failed")
    extra = {} if results else {"error": "no clip rendered" + (f": {skipped[0].get('reason')}" if skipped else "")}
    reporter.update(state=state, progress=1.0, message=f"{len(results)} clip(s) rendered", results=results,
                    skipped=skipped, report=report, **extra)


def _selection(select: Mapping[str, Any]) -> Selection:
    """A job's "select" object as the timeline's Selection (same field names; lists become tuples)."""
    fields = {f.name for f in dataclasses.fields(Selection)}
    unknown = sorted(set(select) - fields)
    if unknown:
        raise InvalidJob(f"select has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(fields))}")
    values = {}
    for key, value in select.items():
        if key == "range_s":
            if not (isinstance(value, (list, tuple)) and len(value) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise InvalidJob(f"select.range_s must be [start_s, end_s] in seconds, got {value!r}")
            values[key] = (float(value[0]), float(value[1]))
        else:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not all(isinstance(v, (str, int)) for v in items):
                raise InvalidJob(f"select.{key} must be a string or a list of strings, got {value!r}")
            values[key] = tuple(str(v) for v in items)
    return Selection(**values)


# ------------------------------------------------------------------------------------------------ pool

class JobPool:
    """Jobs run on worker threads (numpy, soxr and PyAV release the GIL in their inner loops). A job belongs to the
    pool, not to whoever submitted it: the submitter may go away and the job still runs and writes its files."""

    def __init__(self, workers: int = 2, *, keep_finished: int = 256) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stereofoley-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[_Reporter, threading.Event, concurrent.futures.Future]] = {}
        self._keep = keep_finished

    def submit(self, job: Job, *, status_path: str | os.PathLike | None = None, listener: Listener | None = None) -> str:
        job_id = uuid.uuid4().hex[:12]
        reporter = _Reporter(job, job_id, Path(status_path) if status_path else None, listener)
        cancel = threading.Event()
        reporter.update(state="queued", message="queued")
        with self._lock:
            future = self._executor.submit(run_job, job, job_id=job_id, cancel=cancel, _reporter=reporter)
            self._jobs[job_id] = (reporter, cancel, future)
            self._forget_old()
        return job_id

    def _forget_old(self) -> None:
        finished = [k for k, (r, _, f) in self._jobs.items() if f.done()]
        for key in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[key]

    def _get(self, job_id: str):
        with self._lock:
            entry = self._jobs.get(job_id)
        if entry is None:
            raise InvalidJob(f"unknown job id {job_id!r}")
        return entry

    def cancel(self, job_id: str) -> bool:
        """Ask a job to stop. Queued jobs never start; running ones stop at their next progress point."""
        reporter, cancel, future = self._get(job_id)
        if reporter.snapshot()["state"] in FINAL_STATES:
            return False
        cancel.set()
        if future.cancel():  # it had not started: run_job will never write its final state, so do it here
            reporter.update(state="cancelled", message="cancelled before it started")
        return True

    def status(self, job_id: str) -> dict:
        return self._get(job_id)[0].snapshot()

    def wait(self, job_id: str, timeout_s: float | None = None) -> dict:
        reporter, _, future = self._get(job_id)
        try:
            future.result(timeout=timeout_s)
        except concurrent.futures.CancelledError:
            pass
        return reporter.snapshot()

    def shutdown(self, cancel_running: bool = True) -> None:
        if cancel_running:
            with self._lock:
                for _, cancel, future in self._jobs.values():
                    cancel.set()
                    future.cancel()
        self._executor.shutdown(wait=True)
