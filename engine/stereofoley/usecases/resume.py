"""Resumable timeline renders (`stereofoley render --resume`, a timeline job's `"resume": true`).

Each clip a timeline render finishes leaves a record beside its WAV, `.<wav name>.resume.json`, written atomically
right after the clip's last file (`usecases.clip.on_finished`), so a SIGKILLed run still has it. It holds:
- the clip's fingerprint: the media's identity (real path, size, mtime_ns), the clip request (media range, speed,
  sample counts, BWF record position), every RenderOptions field that changes the output (all but overwrite,
  resume, cache and cache_dir) with the identity of the files and folders those fields name, the loudness mode
  and the engine version;
- the clip's result (what its report entry is made from) and the size and mtime_ns of each file it wrote;
- its state: "raw" (edit scope: written without loudness gain, as a clean run leaves it before the edit's one
  gain), "gaining" (the edit's gain is being applied: the files are in no known state), "final" (as delivered;
  in edit scope with the key of the edit the gain was computed over, and that edit's loudness summary).

`finished_clips` is what a resumed render keeps: clips whose record matches their fingerprint and whose files
are unchanged. In clip scope every such "final" clip is kept. In edit scope one gain covers every clip (its
BS.1770 gating blocks before any gain are in the record), so "raw" clips are kept and gained with the newly
rendered ones, exactly as a clean run gains them (the same bytes); "final" clips are kept only when the whole
edit is unchanged (nothing left to render), since a different edit means a different gain, and a limited file
cannot be given another gain exactly: they are rendered again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .. import __version__
from ..errors import StereoFoleyError
from ..files import check_read, write_text_atomic
from ..options import RenderOptions
from ..timeline.plan import PictureClip
from ..timeline.request import ClipRequest, clip_request
from .clip import ClipResult
from .edit_loudness import MapClips, apply_edit_loudness

RECORD_VERSION = 1
# Fields that change how a render runs, never what it writes. media_roots and remaps only find media, whose
# identity is in the fingerprint: resuming with another --media-root (to find a missing clip) keeps the rest.
NOT_IN_FINGERPRINT = frozenset({"overwrite", "resume", "cache", "cache_dir", "workers", "scheduler", "worker_path_map",
                                "worker_memory_mb", "media_roots", "remaps"})  # where clips ran changes no byte


def record_path(wav: Path) -> Path:
    return Path(wav).with_name(f".{Path(wav).name}.resume.json")


# ------------------------------------------------------------------------------------------------ fingerprint
def fingerprint(request: ClipRequest, options: RenderOptions, deferred: bool) -> dict[str, Any]:
    """What a clip's files depend on, as JSON. deferred: edit-scope loudness (the files wait for the edit's gain)."""
    opts = {k: v for k, v in dataclasses.asdict(options).items() if k not in NOT_IN_FINGERPRINT}
    return {"engine": __version__, "media": _identity(request.media_path), "request": _request_json(request),
            "options": opts,
            "option_files": {p: _identity(p) for p in _option_paths(options)},
            "loudness": "edit" if deferred else "clip"}


def fingerprint_key(request: ClipRequest, options: RenderOptions, deferred: bool) -> str:
    return _digest(fingerprint(request, options, deferred))


def edit_key(results: Iterable[ClipResult], options: RenderOptions) -> str:
    """The key of an edit: its clips' keys, in order (edit-scope loudness depends on all of them)."""
    return _digest([fingerprint_key(r.request, options, True) for r in results])


def _identity(path: str | os.PathLike) -> list | None:
    """[real path, size, mtime_ns] (a folder: its own entry's), or None when it cannot be read."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except (OSError, ValueError):
        return None
    return [real, st.st_size, st.st_mtime_ns]


def _option_paths(options: RenderOptions) -> list[str]:
    """The files and folders the options name: their content changes the output."""
    paths = [p for p in (options.weights, options.class_map, options.sound_map) if p]
    paths += list(options.tracks) + list(options.libraries)
    paths += [s.split("=", 1)[1] for s in options.sounds if "=" in s]
    return paths


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=_plain).encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (Path, Fraction)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


# ------------------------------------------------------------------------------------------------ records
def record_clip(result: ClipResult, options: RenderOptions, deferred: bool) -> None:
    """`usecases.clip.on_finished` listener: the record of a clip whose files are all written."""
    write_record(result, options, deferred, "raw" if deferred else "final")


def write_record(result: ClipResult, options: RenderOptions, deferred: bool, state: str, *,
                 edit: str | None = None, edit_loudness: dict | None = None) -> Path:
    files = [result.wav, *result.stems, *(p for p in (result.diffuse_wav, result.tracks) if p is not None)]
    fp = fingerprint(result.request, options, deferred)
    record = {
        "version": RECORD_VERSION, "state": state, "edit": edit, "edit_loudness": edit_loudness,
        "key": _digest(fp), "fingerprint": fp,
        "result": _result_json(result),
        "files": {str(Path(p).resolve()): _file_stat(p) for p in files},
    }
    return write_text_atomic(record_path(result.wav), json.dumps(record, default=_plain), overwrite=True)


def _file_stat(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


MAX_RECORD_BYTES = 64 * 1024 * 1024


def _read_record(wav: Path) -> dict | None:
    """The record of the clip whose mix is `wav`, or None when there is none or it is not one of ours (never an
    error: the clip is rendered again). Its files must be the clip's own: the mix, and beside it files named after
    the mix (stems, tracks.json), so a planted record cannot make a resumed render gain or list another file."""
    path = record_path(wav)
    try:
        check_read(path, "resume record")  # a server's roots hold at the moment of opening
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            record = json.loads(f.read(MAX_RECORD_BYTES + 1)[:MAX_RECORD_BYTES].decode("utf-8"))
        if not (isinstance(record, dict) and record.get("version") == RECORD_VERSION
                and record.get("state") in ("raw", "gaining", "final") and isinstance(record.get("files"), dict)
                and isinstance(record.get("result"), dict)):
            return None
        mix, folder = Path(wav).resolve(), Path(wav).resolve().parent
        result = record["result"]
        named = [result["wav"], *result["stems"], *(p for p in (result["diffuse_wav"], result["tracks"]) if p)]
        ours = lambda p: Path(p) == mix or (Path(p).parent == folder and Path(p).name.startswith(mix.stem + "."))
        if Path(result["wav"]) != mix or not all(ours(p) for p in [*named, *record["files"]]):
            return None
        if set(map(str, named)) != set(record["files"]):
            return None
        record["clip"] = _result_from(result)
    except (OSError, ValueError, KeyError, TypeError, StereoFoleyError):
        return None
    return record


def _intact(record: dict) -> bool:
    """Every file the clip wrote is still there, as the record saw it."""
    return all(isinstance(stat, list) and _file_stat(Path(p)) == stat for p, stat in record["files"].items())


def _request_json(request: ClipRequest) -> dict[str, Any]:
    return {**dataclasses.asdict(request), "media_path": str(request.media_path)}


def _result_json(r: ClipResult) -> dict[str, Any]:
    opt = lambda p: None if p is None else str(Path(p).resolve())
    return {"request": _request_json(r.request), "wav": opt(r.wav), "objects": list(r.objects), "peak_dbfs": r.peak_dbfs,
            "loudness_lufs": r.loudness_lufs, "detector": r.detector, "tracks": opt(r.tracks), "gain_db": r.gain_db,
            "diffuse_wav": opt(r.diffuse_wav), "stems": [opt(p) for p in r.stems],
            "loudness_blocks": None if r.loudness_blocks is None else np.asarray(r.loudness_blocks).tolist(),
            "true_peak_dbtp": r.true_peak_dbtp, "analysed_fraction": r.analysed_fraction, "warning": r.warning}  # a kept clip stays partial


def _result_from(d: dict[str, Any]) -> ClipResult:
    opt = lambda p: None if p is None else Path(p)
    blocks = d["loudness_blocks"]
    return ClipResult(
        request=ClipRequest(**{**d["request"], "media_path": Path(d["request"]["media_path"])}),
        wav=Path(d["wav"]), objects=tuple(d["objects"]), peak_dbfs=float(d["peak_dbfs"]),
        loudness_lufs=d["loudness_lufs"], detector=d["detector"], tracks=opt(d["tracks"]),
        gain_db=float(d["gain_db"]), diffuse_wav=opt(d["diffuse_wav"]), stems=tuple(Path(p) for p in d["stems"]),
        loudness_blocks=None if blocks is None else np.asarray(blocks, dtype=np.float64),
        true_peak_dbtp=None if d.get("true_peak_dbtp") is None else float(d["true_peak_dbtp"]),
        analysed_fraction=float(d.get("analysed_fraction", 1.0)), warning=str(d.get("warning", "")))


# ------------------------------------------------------------------------------------------------ resuming
@dataclass(frozen=True)
class Kept:
    """The clips a resumed render keeps (id -> result, in plan order), and the edit's loudness summary when the
    whole edit is kept as delivered."""

    results: dict[str, ClipResult] = field(default_factory=dict)
    edit_loudness: dict | None = None

    @property
    def ids(self) -> list[str]:
        return list(self.results)

    def todo(self, planned: Sequence[tuple[PictureClip, Path]]) -> list[tuple[PictureClip, Path]]:
        return [p for p in planned if p[0].id not in self.results]

    def merged(self, planned: Sequence[tuple[PictureClip, Path]],
               done: Sequence[tuple[PictureClip, ClipResult]]) -> list[tuple[PictureClip, ClipResult]]:
        """Kept and newly rendered clips together, in plan order (the edit's gain is measured in that order)."""
        rendered = {c.id: (c, r) for c, r in done}
        out = []
        for c, _ in planned:
            if c.id in self.results:
                out.append((c, self.results[c.id]))
            elif c.id in rendered:
                out.append(rendered[c.id])
        return out


def finished_clips(planned: Sequence[tuple[PictureClip, Path]], wav_paths: dict[str, Path], g0: Fraction,
                   options: RenderOptions, *, edit_scope: bool) -> Kept:
    """The planned clips an earlier run finished with the same fingerprint and whose files are unchanged."""
    keys, records = [], {}
    for c, media_path in planned:
        try:
            key = fingerprint_key(clip_request(c, media_path, g0), options, edit_scope)
        except (StereoFoleyError, ValueError, ArithmeticError):  # rendering will name the reason
            keys.append(None)
            continue
        keys.append(key)
        record = _read_record(wav_paths[c.id])
        if record is not None and record.get("key") == key and _intact(record):
            records[c.id] = record
    if not edit_scope:
        return Kept({i: r["clip"] for i, r in records.items() if r["state"] == "final"})
    edit = _digest(keys)
    whole = len(records) == len(planned) and all(r["state"] == "final" and r["edit"] == edit for r in records.values())
    if whole:
        first = next(iter(records.values()))
        return Kept({i: r["clip"] for i, r in records.items()}, edit_loudness=first["edit_loudness"])
    return Kept({i: r["clip"] for i, r in records.items() if r["state"] == "raw"})


def edit_loudness(results: Sequence[ClipResult], options: RenderOptions, kept: Kept,
                  map_clips: MapClips) -> tuple[list[ClipResult], dict]:
    """`apply_edit_loudness` (per-clip work through map_clips) with the records kept in step: "gaining" while
    files are rewritten, then "final" under the edit's key. A whole edit kept as delivered is not gained again."""
    if kept.edit_loudness is not None and len(results) == len(kept.results):
        return list(results), dict(kept.edit_loudness)
    for r in results:
        write_record(r, options, True, "gaining")
    out, loudness = apply_edit_loudness(results, options, map_clips)
    edit = edit_key(out, options)
    for r in out:
        write_record(r, options, True, "final", edit=edit, edit_loudness=loudness)
    return out, loudness
