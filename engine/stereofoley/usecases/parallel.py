"""Where an edit's clips are rendered: one after another in this process, or on a Dask cluster.

`executor_for(options)` picks: serial when options.workers == 1 and no scheduler, else a `DaskExecutor` (a
`distributed.LocalCluster` of `workers` processes with one thread each, or an existing cluster at
options.scheduler). Both run each clip through `render_clip_task` -> `usecases.clip.render_clip_files`, the one
clip path, and hand back one outcome per task in plan order: a ClipResult, or the reason the clip was skipped
(`ExcType: message`, the same text either way). Seeds are per clip (options.seed), so outputs do not depend on
which process rendered a clip. Workers write each file by temp file + rename (files.atomic_output).

On a worker a task runs under the client's confinement roots, with options.worker_path_map ("FROM=TO" path
prefixes) applied to the clip's media and output paths; the result's paths are mapped back to the client's.
dask/distributed are imported inside functions only (optional at import time, slow to import).
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import resource
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import StereoFoleyError
from ..files import confined_roots, confinement, glob_escape
from ..options import RenderOptions
from ..timeline.request import ClipRequest
from ..vision.detect import find_weights
from ..vision.ultralytics_env import import_ultralytics
from .clip import ClipMixer, ClipResult, finished_listener, render_clip_files

Progress = Callable[[float, str], None]
# What makes one clip skipped rather than the whole render fail (serial and on workers alike).
CLIP_ERRORS = (StereoFoleyError, OSError, RuntimeError, ValueError, ArithmeticError, MemoryError)
TICK_S = 0.5  # how often a waiting client reports progress (a job's cancel is seen at the next report)
CONNECT_TIMEOUT_S = 20.0  # an unreachable scheduler is an error after this long, never a hang
WORKER_WAIT_S = 60.0  # a scheduler without workers is an error after this long
# Dask's statistical profiler samples every task thread's stack every 10 ms, and its Nanny starts workers with
# MALLOC_TRIM_THRESHOLD_=65536, which pins glibc's mmap threshold at 128 KiB so that every large numpy array is
# mapped and unmapped again: measured here, that made a clip 1.7x the CPU time. Local workers start without
# either (our env below sets the thread limits instead); `warm_up` undoes both on external workers.
# The local cluster's scheduler also hands each one-thread worker one clip at a time (the default saturation 1.1
# queues a second one on it, which fails with the first when a clip takes its worker past --worker-memory-mb),
# and tries a clip that killed its worker once more, not three times (such a clip fails again).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False, "distributed.nanny.pre-spawn-environ": {},
                 "distributed.scheduler.worker-saturation": 1.0, "distributed.scheduler.allowed-failures": 1}
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's own upper bound for its dynamic threshold (64-bit)
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "STEREOFOLEY_WORKER_THREADS")


@dataclass(frozen=True)
class ClipTask:
    """One clip to render: the request (client paths) and where its mix and tracks.json go."""

    clip_id: str
    name: str
    request: ClipRequest
    wav: Path
    tracks: Path


@dataclass(frozen=True)
class Outcome:
    """A task's result: `result` when rendered, else `reason`; where and how long it ran."""

    result: ClipResult | None = None
    reason: str | None = None
    worker: str = "local"
    compute_s: float = 0.0  # wall seconds the clip took where it ran
    cpu_s: float = 0.0  # CPU seconds of that process meanwhile (every thread): the cost without other load
    peak_rss_mb: float = 0.0
    value: Any = None  # what a `map_clips` function returned beside the result


# ------------------------------------------------------------------------------------------------ path maps
def parse_path_map(rules: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """"FROM=TO" prefix rules (RenderOptions validates them) as (FROM, TO) pairs, trailing slashes dropped."""
    pairs = []
    for rule in rules:
        old, _, new = rule.partition("=")
        pairs.append((old.rstrip("/") or "/", new.rstrip("/") or "/"))
    return tuple(pairs)


def map_path(path: Path | str, rules: Sequence[tuple[str, str]]) -> Path:
    """`path` with the first rule whose FROM is a whole-component prefix of it replaced by TO."""
    text = str(path)
    for old, new in rules:
        if text == old or text.startswith(old.rstrip("/") + "/"):
            return Path(new + text[len(old):]) if old != "/" else Path(new.rstrip("/") + text)
    return Path(path)


def unmap_path(path: Path | str, rules: Sequence[tuple[str, str]]) -> Path:
    return map_path(path, [(new, old) for old, new in rules])


def _with_paths(result: ClipResult, convert: Callable[[Path], Path]) -> ClipResult:
    """The result with every file path it names (mix, tracks, stems, objects' stems) converted."""
    conv = lambda p: None if p is None else convert(p)
    return replace(result, wav=conv(result.wav), tracks=conv(result.tracks), diffuse_wav=conv(result.diffuse_wav),
                   stems=tuple(conv(p) for p in result.stems),
                   objects=tuple(o if "source_wav" not in o else {**o, "source_wav": str(conv(o["source_wav"]))}
                                 for o in result.objects))


def _unmap_result(result: ClipResult, rules, request: ClipRequest) -> ClipResult:
    return replace(_with_paths(result, lambda p: unmap_path(p, rules)), request=request)


# ------------------------------------------------------------------------------------------------ one clip
def render_clip_task(task: ClipTask, options: RenderOptions, mixer: ClipMixer, defer_loudness: bool) -> Outcome:
    """Render one clip in this process; an error of CLIP_ERRORS makes it skipped with `ExcType: message`."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        result = render_clip_files(task.request, options, task.wav, tracks=task.tracks, mixer=mixer,
                                   defer_loudness=defer_loudness)
    except CLIP_ERRORS as exc:
        return Outcome(reason=f"{type(exc).__name__}: {exc}", compute_s=time.perf_counter() - t0,
                       cpu_s=time.process_time() - c0)
    return Outcome(result=result, compute_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)


def worker_render(task: ClipTask, options: RenderOptions, mixer: ClipMixer, defer_loudness: bool,
                  roots: tuple[str, ...] | None, path_map: tuple[tuple[str, str], ...]) -> Outcome:
    """A Dask task: one clip on a worker, under the client's roots, with the path map applied."""
    _prepare_process()
    mapped = replace(task, request=replace(task.request, media_path=map_path(task.request.media_path, path_map)),
                     wav=map_path(task.wav, path_map), tracks=map_path(task.tracks, path_map))
    if path_map:
        mixer = _ClientMedia(mixer, task.request.media_path)
    with confinement(_worker_roots(roots, path_map)):
        outcome = render_clip_task(mapped, options, mixer, defer_loudness)
    _limit_loaded_libraries()  # torch imported by this clip (YOLO) gets the thread limit too
    if outcome.result is not None:
        outcome = replace(outcome, result=_unmap_result(outcome.result, path_map, task.request))
    return replace(outcome, worker=_worker_name(), peak_rss_mb=_peak_rss_mb())


def worker_map(fn: Callable, result: ClipResult, args: tuple, roots: tuple[str, ...] | None,
               path_map: tuple[tuple[str, str], ...]) -> Outcome:
    """A Dask task: fn(result, *args) -> (result, value) for one rendered clip (the edit's loudness gain), on
    the worker's paths and under the client's roots; `value` comes back as Outcome.value."""
    _prepare_process()
    t0, c0 = time.perf_counter(), time.process_time()
    with confinement(_worker_roots(roots, path_map)):
        out, value = fn(_with_paths(result, lambda p: map_path(p, path_map)), *args)
    return Outcome(result=_unmap_result(out, path_map, result.request), value=value, worker=_worker_name(),
                   compute_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)


def _worker_roots(roots: tuple[str, ...] | None, path_map: tuple[tuple[str, str], ...]) -> tuple[str, ...] | None:
    return None if roots is None else tuple(str(map_path(r, path_map)) for r in roots)


class _ClientMedia:
    """A mixer whose analysis names the client's media path (tracks.json is the client's file, as in serial)."""

    def __init__(self, mixer: ClipMixer, media_path: Path) -> None:
        self.mixer, self.media_path = mixer, media_path

    def __call__(self, request: ClipRequest, options: RenderOptions, progress=None):
        mix = self.mixer(request, options, progress)
        if mix.analysis is None:
            return mix
        return replace(mix, analysis=replace(mix.analysis, media_path=self.media_path))


_PREPARED: dict[str, int] = {}


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or taskset's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def warm_up(detector: str = "motion", dask_worker=None) -> int:
    """Run on every worker before the first clip: thread limits, then the clip pipeline's imports (PyAV,
    OpenCV, the vision package; torch and ultralytics when YOLO may run), so that start-up is counted once per
    worker and not in its first clip (which still loads the model, once: vision.detect.loaded_yolo)."""
    _prepare_process(dask_worker)
    _stop_profiler(dask_worker)
    names = ["stereofoley.vision.analyze", "stereofoley.sources.factory", "av"]
    if detector != "motion":
        names += ["torch"]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:  # the vision extra is optional; the first clip then reports what is missing
            pass
    if detector != "motion":
        try:
            import_ultralytics()
        except (ImportError, StereoFoleyError):
            pass
    _limit_loaded_libraries()
    return os.getpid()


def worker_threads(worker=None) -> int:
    """Threads each library may use in this worker process: $STEREOFOLEY_WORKER_THREADS (DaskExecutor's
    LocalCluster sets it to cores / workers), else $OMP_NUM_THREADS (a `dask worker` Nanny sets 1), else the
    cores shared by the worker's task threads."""
    for name in ("STEREOFOLEY_WORKER_THREADS", "OMP_NUM_THREADS"):
        raw = os.environ.get(name, "")
        if raw.isdigit() and int(raw) > 0:
            return int(raw)
    try:
        if worker is None:
            from distributed import get_worker

            worker = get_worker()
        nthreads = worker.state.nthreads
    except (ImportError, ValueError, AttributeError):
        nthreads = 1
    return max(1, usable_cores() // max(1, nthreads))


def _prepare_process(worker=None) -> None:
    """Once per worker process: the thread limits, so N workers do not each use every core."""
    if "threads" in _PREPARED:
        return
    threads = worker_threads(worker)
    for name in THREAD_ENV:  # read by OpenMP/BLAS when a library loads later in this process
        os.environ.setdefault(name, str(threads))
    _PREPARED["threads"] = threads
    if os.environ.get("MALLOC_TRIM_THRESHOLD_"):  # set by a Nanny before this process started (WORKER_CONFIG)
        _relax_malloc()
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass
    _limit_loaded_libraries()


def _relax_malloc() -> None:
    """Large mmap and trim thresholds, as glibc's dynamic ones would have grown to: arrays reuse freed heap."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, MMAP_THRESHOLD_BYTES)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, TRIM_THRESHOLD_BYTES)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc
        pass


def _stop_profiler(worker) -> None:
    """Stop this worker's stack sampler (WORKER_CONFIG), for workers started without that config (`dask worker`)."""
    if worker is None:  # not on a Dask worker (`Client.run` passes it)
        return
    for name in ("profile", "profile-cycle"):
        callback = worker.periodic_callbacks.pop(name, None)
        if callback is not None:
            worker.loop.add_callback(callback.stop)  # thread-safe: stopped on the worker's own event loop


def _limit_loaded_libraries() -> None:
    if "torch" in sys.modules and "torch" not in _PREPARED:
        import torch

        torch.set_num_threads(_PREPARED.get("threads", 1))
        _PREPARED["torch"] = 1


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # Linux: KiB


# ------------------------------------------------------------------------------------------------ executors
class SerialExecutor:
    """Clips one after another in this process (workers == 1, no scheduler): today's path."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def __enter__(self) -> "SerialExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def run(self, tasks: Sequence[ClipTask], options: RenderOptions, mixer: ClipMixer, defer_loudness: bool,
            progress: Progress | None, n_total: int | None = None) -> list[Outcome]:
        n = n_total or len(tasks)
        for k, task in enumerate(tasks):
            if progress:
                progress(k / n, f"clip {k + 1}/{n}: {task.name}")
            self.outcomes.append(render_clip_task(task, options, mixer, defer_loudness))
        return self.outcomes

    def map_clips(self, fn: Callable, results: Sequence[ClipResult], *args: Any) -> list[tuple[ClipResult, Any]]:
        return [fn(r, *args) for r in results]

    def describe(self) -> dict[str, Any]:
        first = self.outcomes[0] if self.outcomes else Outcome()
        return {"mode": "serial", "workers": 1, "scheduler": None,
                "compute_s": round(sum(o.compute_s for o in self.outcomes), 4),
                "cpu_s": round(sum(o.cpu_s for o in self.outcomes), 4),
                "first_clip_s": round(first.compute_s, 4), "first_clip_cpu_s": round(first.cpu_s, 4)}


class DaskExecutor:
    """Clips on Dask workers: a LocalCluster of `workers` processes (one thread each, loopback only) or the
    cluster at `scheduler` ("tcp://HOST:PORT"). Closed on exit, also when the render is cancelled."""

    def __init__(self, *, workers: int = 2, scheduler: str | None = None, memory_mb: int | None = None,
                 path_map: Sequence[str] = (), detector: str = "motion") -> None:
        self.workers, self.scheduler, self.memory_mb, self.detector = workers, scheduler, memory_mb, detector
        self.path_map = parse_path_map(path_map)
        self.cluster = self.client = None
        self.startup_s = 0.0
        self.render_s = 0.0
        self.outcomes: list[Outcome] = []
        self.mapped: list[Outcome] = []  # map_clips tasks (the edit's loudness gain)
        self.map_s = 0.0
        self._limits: dict[str, int] = {}
        self._roots: tuple[str, ...] | None = None
        self._progress: Progress | None = None

    def __enter__(self) -> "DaskExecutor":
        t0 = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def _start(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            threads = max(1, usable_cores() // self.workers)
            env = {name: str(threads) for name in THREAD_ENV}
            memory = f"{self.memory_mb}MiB" if self.memory_mb else "auto"
            try:
                with dask.config.set(WORKER_CONFIG):  # the workers' Nannies copy the config they are made with
                    self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                host="127.0.0.1", dashboard_address=None, memory_limit=memory,
                                                env=env, silence_logs=logging.ERROR,
                                                # its health/metrics HTTP routes on a free loopback port, not :8787
                                                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
            except (OSError, RuntimeError, TimeoutError) as exc:  # e.g. a worker process that cannot import
                raise SchedulerUnavailable(f"workers={self.workers}: the local Dask workers did not start "
                                           f"({type(exc).__name__}: {exc})") from None
            self.client = Client(self.cluster, timeout=CONNECT_TIMEOUT_S)
            self.client.wait_for_workers(self.workers, timeout=WORKER_WAIT_S)
            self.client.run(warm_up, self.detector)  # imports, thread limits: paid once per worker, before any clip
            return
        try:
            self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnavailable(f"scheduler={self.scheduler}: cannot connect within {CONNECT_TIMEOUT_S:.0f} s "
                                       f"({type(exc).__name__}: {exc})") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise SchedulerUnavailable(f"scheduler={self.scheduler} has no workers after {WORKER_WAIT_S:.0f} s; "
                                       "start some with `dask worker " + self.scheduler + "`") from None
        self.client.run(warm_up, self.detector)

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing after a failure must not hide the failure
                    pass
        self.client = self.cluster = None

    def run(self, tasks: Sequence[ClipTask], options: RenderOptions, mixer: ClipMixer, defer_loudness: bool,
            progress: Progress | None, n_total: int | None = None) -> list[Outcome]:
        from distributed.scheduler import KilledWorker

        roots = confined_roots()
        self._roots = None if roots is None else tuple(str(r) for r in roots)
        self._limits = self._worker_limits()
        self._progress = progress
        on_done = finished_listener()  # e.g. resume records, written here once a worker's files are in place
        t0 = time.perf_counter()
        futures = [self.client.submit(worker_render, task, options, mixer, defer_loudness, self._roots, self.path_map,
                                      pure=False, key=f"stereofoley-clip-{k}-{os.urandom(4).hex()}")
                   for k, task in enumerate(tasks)]
        outcomes: list[Outcome | None] = [None] * len(tasks)

        def take(k: int, future) -> None:
            try:
                outcomes[k] = _result(future)
            except KilledWorker:  # the worker died on it (memory limit, crash): that clip is skipped
                limit = self._memory_limits()
                outcomes[k] = Outcome(reason="KilledWorker: the worker died while rendering this clip" + (
                    f" (past its memory limit of {limit} MiB, or a crash; --worker-memory-mb sets it)" if limit else ""))
            if on_done is not None and outcomes[k].result is not None:
                on_done(outcomes[k].result, options, defer_loudness)

        n = len(tasks)
        unfinished = lambda: self._remove_parts([t for t, o in zip(tasks, outcomes) if o is None])
        self._gather(futures, take, lambda done: done / n, "clips", on_cancel=unfinished)
        self.render_s = time.perf_counter() - t0
        self.outcomes = [o for o in outcomes if o is not None]
        return self.outcomes  # type: ignore[return-value]

    def map_clips(self, fn: Callable, results: Sequence[ClipResult], *args: Any) -> list[tuple[ClipResult, Any]]:
        """[fn(result, *args) for result in results] on the workers (fn returns (result, value)), in plan order;
        the clips' paths mapped to the workers' and back, under the render's roots. Cancellable as `run`."""
        t0 = time.perf_counter()
        futures = [self.client.submit(worker_map, fn, r, tuple(args), self._roots, self.path_map, pure=False,
                                      key=f"stereofoley-{getattr(fn, '__name__', 'map').strip('_')}-{k}-{os.urandom(4).hex()}")
                   for k, r in enumerate(results)]
        outcomes: list[Outcome | None] = [None] * len(results)

        def take(k: int, future) -> None:
            outcomes[k] = _result(future)  # a worker's error (or KilledWorker) fails the step, as it would here

        n, rendered = len(results), max(1, len(self.outcomes))
        # after the clips: the bar goes on from its last step to 1 (a job's progress never goes backwards)
        self._gather(futures, take, lambda done: (rendered - 1 + done / n) / rendered, "edit loudness: clips")
        self.mapped.extend(o for o in outcomes if o is not None)
        self.map_s += time.perf_counter() - t0
        return [(o.result, o.value) for o in outcomes]  # type: ignore[union-attr]

    def _gather(self, futures: list, take: Callable[[int, Any], None], fraction: Callable[[int], float], label: str,
                on_cancel: Callable[[], None] | None = None) -> None:
        """Wait for the futures, handing each to take(plan index, future) as it finishes, with aggregated progress
        ("<label> D/N done, R running, ETA"). On any exception (Ctrl-C; a job's cancel, raised by its progress
        callback; a task's own error) the futures are cancelled, on_cancel runs and the cluster is closed."""
        from distributed import wait

        index = {f.key: k for k, f in enumerate(futures)}
        pending = set(futures)
        n, slots, t0 = len(futures), self._slots(), time.perf_counter()
        message = f"{label} 0/{n} done, {min(slots, n)} running"
        workers_seen = time.monotonic()
        try:
            while pending:
                if self._progress:
                    self._progress(fraction(n - len(pending)), message)
                try:
                    finished, pending = wait(list(pending), timeout=TICK_S, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    if self._worker_count():
                        workers_seen = time.monotonic()
                    elif time.monotonic() - workers_seen > WORKER_WAIT_S:  # every worker gone: an error, not a hang
                        raise SchedulerUnavailable(
                            f"scheduler={self.scheduler or 'local'}: no worker left for {WORKER_WAIT_S:.0f} s with "
                            f"{len(pending)} task(s) of {label!r} pending (workers died or could not start)") from None
                    continue
                lost = set()
                for future in finished:
                    try:
                        take(index[future.key], future)
                    except ResultLost:  # its worker died before the result came back: Dask computes it again
                        lost.add(future)
                pending |= lost
                done = n - len(pending)
                elapsed = time.perf_counter() - t0
                eta = f", ETA {elapsed / done * (n - done):.0f} s" if done and pending else ""
                message = f"{label} {done}/{n} done, {min(slots, len(pending))} running{eta}"
        except BaseException:
            self.client.cancel(futures, force=True)
            if on_cancel is not None:
                on_cancel()
            self.close()
            raise

    def _worker_count(self) -> int:
        try:
            return len(self.client.scheduler_info()["workers"])
        except Exception:  # the count only guards against waiting for nothing
            return 1

    def _slots(self) -> int:
        try:
            return max(1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()))
        except Exception:
            return self.workers

    def _remove_parts(self, unfinished: Sequence[ClipTask]) -> None:
        """Temp files of clips that did not finish (local workers are killed by close(); remote tasks that were
        already running finish on their own and rename their files whole)."""
        if self.scheduler is not None:
            return
        self.close()  # the workers are gone before their temp files are removed
        for task in unfinished:
            prefix = "." + glob_escape(task.wav.stem[:90])
            for part in task.wav.parent.glob(f"{prefix}*.part*"):
                try:
                    part.unlink()
                except OSError:
                    pass

    def describe(self) -> dict[str, Any]:
        """What ran where: the report's "execution" (docs/contracts.md)."""
        per_worker: dict[str, dict[str, Any]] = {}
        for o in self.outcomes:
            w = per_worker.setdefault(o.worker, {"clips": 0, "compute_s": 0.0, "cpu_s": 0.0,
                                                 "first_clip_s": round(o.compute_s, 4),
                                                 "first_clip_cpu_s": round(o.cpu_s, 4), "peak_rss_mb": 0.0})
            w["clips"] += 1
            w["compute_s"] = round(w["compute_s"] + o.compute_s, 4)
            w["cpu_s"] = round(w["cpu_s"] + o.cpu_s, 4)
            w["peak_rss_mb"] = max(w["peak_rss_mb"], o.peak_rss_mb)
        gain_tasks: dict[str, int] = {}
        for o in self.mapped:
            gain_tasks[o.worker] = gain_tasks.get(o.worker, 0) + 1
        return {
            "mode": "dask", "workers": len(per_worker) if self.scheduler else self.workers,
            "scheduler": self.scheduler or "local", "memory_limit_mb": self._memory_limits(),
            "startup_s": round(self.startup_s, 4), "render_s": round(self.render_s, 4),
            "compute_s": round(sum(o.compute_s for o in self.outcomes), 4),
            "cpu_s": round(sum(o.cpu_s for o in self.outcomes), 4), "per_worker": per_worker,
            # the edit's loudness step (usecases/edit_loudness.py): its per-clip tasks, and where they ran
            "edit_gain_s": round(self.map_s, 4), "edit_gain_tasks": gain_tasks,
        }

    def _memory_limits(self) -> int | None:
        """The workers' memory limit in MiB (the smallest, for an external cluster's mixed workers)."""
        if self.scheduler is None:
            return self.memory_mb or (min(self._limits.values()) if self._limits else None)
        return min(self._limits.values()) if self._limits else None

    def _worker_limits(self) -> dict[str, int]:
        try:
            workers = self.client.scheduler_info()["workers"]
        except Exception:  # only for the report
            return {}
        return {a: int(w["memory_limit"] / 2**20) for a, w in workers.items() if w.get("memory_limit")}


class ResultLost(Exception):
    """A finished task whose result went with its worker before the client had it (Dask recomputes it)."""


def _result(future) -> Any:
    """A finished future's result; ResultLost when it is no longer there (its worker died): `future.result()`
    would then wait, with no limit, for a recomputation that may never come (no worker left)."""
    if future.status not in ("finished", "error", "cancelled"):
        raise ResultLost(future.key)
    try:
        return future.result(timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ResultLost(future.key) from None


class SchedulerUnavailable(StereoFoleyError):
    """The Dask scheduler cannot be reached or has no workers."""


def executor_for(options: RenderOptions) -> SerialExecutor | DaskExecutor:
    if options.workers == 1 and options.scheduler is None:
        return SerialExecutor()
    return DaskExecutor(workers=options.workers, scheduler=options.scheduler, memory_mb=options.worker_memory_mb,
                        path_map=options.worker_path_map, detector=_detector_hint(options))


def _detector_hint(options: RenderOptions) -> str:
    """"yolo" when the clips will run YOLO (workers import torch before their first clip), else "motion"."""
    if options.detector == "yolo" or (options.detector == "auto" and find_weights(options.weights) is not None):
        return "yolo"
    return "motion"
