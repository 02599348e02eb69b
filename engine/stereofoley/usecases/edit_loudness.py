"""One loudness gain for a whole edit, so that levels between shots keep following distance.

Per-clip normalisation brings every clip to the target: a far shot and a near shot of the same object come out
equally loud. Edit scope (options.loudness_scope == "edit", the default for `stereofoley render` and timeline
jobs) renders every clip without loudness gain (`render_clip_files(..., defer_loudness=True)` keeps each clip's
BS.1770 gating blocks, a few floats per 100 ms, never the audio, and its mix's true peak), gates the blocks of
all clips together (the integrated loudness of the clips played one after another) and finds ONE gain that
brings the edit to the target with every mix under its true-peak ceiling. Each mix, stem and diffuse stem is
then read, gained and rewritten once (atomically, `audio.write_bwf`), each mix through the true-peak limiter.

Limiting costs loudness, so the gain is found in rounds (at most MAX_ROUNDS) before any file is written: a mix
whose true peak stays under the ceiling at the gain has its blocks scaled (exact: loudness is linear in energy);
only the mixes the limiter would touch are read to measure them limited. The per-clip work runs through
`map_clips` (usecases/parallel.py: on the Dask workers that rendered the clips, or here), clip by clip in plan
order, so the result does not depend on where it ran. Cost: bench/bench_edit_loudness.py.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np
import soundfile as sf

from ..audio import write_bwf
from ..options import RenderOptions
from ..spatial.loudness import LOUDNESS_TOLERANCE_LU, MAX_ROUNDS, gated_lufs, loudness_blocks, true_peak_limited
from ..spatial.mix import peak_dbfs
from .clip import ClipResult, write_stem
from .. import __version__

# map_clips(fn, results, *args) -> [fn(result, *args) for result in results], wherever it runs; fn returns
# (the result, possibly updated, a value).
MapClips = Callable[..., list[tuple[ClipResult, Any]]]
# A clip's true peak is measured on its mix file's samples (usecases/clip.py), so its true peak at a gain is that
# plus the gain, up to float rounding (< 1e-5 dB): a mix this far under the ceiling is known not to need the limiter.
ROUNDING_MARGIN_DB = 0.001


def edit_gain_db(results: Sequence[ClipResult], target_lufs: float) -> tuple[float, float]:
    """(the edit's integrated loudness before any gain, the gain that brings it to target_lufs); 0 dB for an
    edit that is silent throughout."""
    blocks = [r.loudness_blocks for r in results if r.loudness_blocks is not None]
    before = gated_lufs(np.concatenate(blocks)) if blocks else -math.inf
    return before, (target_lufs - before) if math.isfinite(before) else 0.0


def apply_edit_loudness(results: Sequence[ClipResult], options: RenderOptions,
                        map_clips: MapClips) -> tuple[list[ClipResult], dict]:
    """Bring the clips rendered with defer_loudness=True to options.loudness_lufs as one edit. Returns the
    results with their new peak, loudness and gain, and the edit's summary for the report:
    {"scope": "edit", "before_lufs", "gain_db", "lufs"} (lufs: the edit as written, after the limiters).

    As `spatial.loudness.normalize` does for one clip, the true-peak ceiling wins over the target: while the
    limited edit is more than 0.1 LU off, the gain is raised by what is missing (at most MAX_ROUNDS rounds).
    Stems and diffuse stems carry the gain and no limiter. map_clips: where the per-clip work runs (an
    executor's, usecases/parallel.py)."""
    if options.loudness_lufs is None:
        return list(results), {"scope": "edit", "lufs": None}
    target = options.loudness_lufs
    before, gain_db = edit_gain_db(results, target)
    if not math.isfinite(before):  # silent throughout: nothing to move
        return list(results), {"scope": "edit", "before_lufs": None, "gain_db": 0.0, "lufs": None}
    for _ in range(MAX_ROUNDS - 1):
        step_db = target - _edit_lufs_at(results, gain_db, options, map_clips)
        if abs(step_db) <= LOUDNESS_TOLERANCE_LU:
            break
        gain_db += step_db
    done = map_clips(_gain_clip, results, gain_db, options)
    blocks = [b for _, b in done if b is not None]
    after = gated_lufs(np.concatenate(blocks)) if blocks else -math.inf
    finite = lambda v: round(v, 2) if math.isfinite(v) else None
    return ([r for r, _ in done],
            {"scope": "edit", "before_lufs": finite(before), "gain_db": round(gain_db, 4), "lufs": finite(after)})


def _edit_lufs_at(results: Sequence[ClipResult], gain_db: float, options: RenderOptions, map_clips: MapClips) -> float:
    """The edit's loudness with every mix at gain_db and limited: scaled blocks where the limiter stays out,
    measured (the mix read, gained and limited, nothing written) where it may act."""
    ceiling = options.true_peak_dbtp - ROUNDING_MARGIN_DB
    clips = [r for r in results if r.loudness_blocks is not None]
    touched = [k for k, r in enumerate(clips) if not _stays_under(r, gain_db, ceiling)]
    measured = map_clips(_limited_blocks, [clips[k] for k in touched], gain_db, options) if touched else []
    blocks = [_scaled_blocks(r, gain_db) for r in clips]
    for k, (_, b) in zip(touched, measured):  # in order: map_clips keeps it, wherever each ran
        blocks[k] = b if b is not None else np.zeros(0)
    return gated_lufs(np.concatenate(blocks)) if blocks else -math.inf


def _stays_under(r: ClipResult, gain_db: float, ceiling_dbtp: float) -> bool:
    return r.true_peak_dbtp is not None and r.true_peak_dbtp + gain_db <= ceiling_dbtp


def _scaled_blocks(r: ClipResult, gain_db: float) -> np.ndarray:
    """The clip's gating blocks (mean-square energies) at gain_db, the limiter left out."""
    return r.loudness_blocks * 10.0 ** (gain_db / 10.0)


def _blocks_of(r: ClipResult, stereo: np.ndarray, limited: bool, gain_db: float) -> np.ndarray | None:
    """The gating blocks of the clip's mix as gained (and limited): measured only where the limiter acted."""
    if not stereo.shape[1]:
        return None
    return loudness_blocks(stereo) if limited or r.loudness_blocks is None else _scaled_blocks(r, gain_db)


def _gained_mix(r: ClipResult, gain_db: float, options: RenderOptions) -> tuple[np.ndarray, bool]:
    """The clip's mix file times the gain, through the true-peak limiter if it passes the ceiling; and whether
    the limiter changed it. A mix whose true peak (of the file, measured at render) stays under is not measured."""
    stereo = sf.read(str(r.wav), dtype="float32", always_2d=True)[0].T * np.float32(10.0 ** (gain_db / 20.0))
    ceiling = options.true_peak_dbtp
    if not stereo.shape[1] or _stays_under(r, gain_db, ceiling - ROUNDING_MARGIN_DB):
        return stereo, False
    peak = None if r.true_peak_dbtp is None else r.true_peak_dbtp + gain_db
    known_over = peak is not None and peak > ceiling + ROUNDING_MARGIN_DB  # else (unknown, or at the ceiling) measured
    return true_peak_limited(stereo, ceiling, peak_dbtp=peak if known_over else None)


def _limited_blocks(r: ClipResult, gain_db: float, options: RenderOptions) -> tuple[ClipResult, np.ndarray | None]:
    """A round's measurement of one mix the limiter may touch: its gating blocks at the gain, limited."""
    stereo, limited = _gained_mix(r, gain_db, options)
    return r, _blocks_of(r, stereo, limited, gain_db)


def _gain_clip(r: ClipResult, gain_db: float, options: RenderOptions) -> tuple[ClipResult, np.ndarray | None]:
    """One clip's mix (gained, limited where it passes the ceiling), stems and diffuse stem times the gain,
    rewritten atomically; the updated result and the written mix's gating blocks."""
    subtype = options.settings.output_subtype
    stereo, limited = _gained_mix(r, gain_db, options)
    write_bwf(r.wav, stereo, time_reference_samples=r.request.time_reference_samples,
              description=f"StereoFoley {__version__}", subtype=subtype, overwrite=True)
    gain = np.float32(10.0 ** (gain_db / 20.0))
    for path in (*r.stems, *((r.diffuse_wav,) if r.diffuse_wav is not None else ())):
        stem = sf.read(str(path), dtype="float32", always_2d=True)[0].T
        write_stem(path, stem * gain, r.request, subtype, overwrite=True)
    blocks = _blocks_of(r, stereo, limited, gain_db)
    loudness = gated_lufs(blocks) if blocks is not None else -math.inf
    result = replace(r, peak_dbfs=peak_dbfs(stereo), gain_db=r.gain_db + gain_db,
                     loudness_lufs=loudness if math.isfinite(loudness) else None)
    return result, blocks
