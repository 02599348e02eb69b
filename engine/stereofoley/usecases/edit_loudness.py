"""One loudness gain for a whole edit, so that levels between shots keep following distance.

Per-clip normalisation brings every clip to the target: a far shot and a near shot of the same object come out
equally loud. Edit scope (options.loudness_scope == "edit", the default for `stereofoley render` and timeline
jobs) renders every clip without loudness gain (`render_clip_files(..., defer_loudness=True)` keeps each clip's
BS.1770 gating blocks: a few floats per 100 ms, never the audio), gates the blocks of all clips together — the
integrated loudness of the clips played one after another — and applies ONE gain to every written mix, stem
and diffuse stem (each file rewritten atomically, `audio.write_bwf`), then each mix's true-peak limiter.
Nothing is rendered twice; the cost is one read and one write per file (bench/bench_edit_loudness.py).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Sequence

import numpy as np
import soundfile as sf

from ..audio import write_bwf
from ..files import confined_call
from ..options import RenderOptions
from ..spatial.loudness import LOUDNESS_TOLERANCE_LU, MAX_ROUNDS, gated_lufs, integrated_lufs, limit_true_peak, loudness_blocks
from ..spatial.mix import peak_dbfs
from .clip import ClipResult, write_stem
from .parallel import usable_cores
from .. import __version__


def edit_gain_db(results: Sequence[ClipResult], target_lufs: float) -> tuple[float, float]:
    """(the edit's integrated loudness before any gain, the gain that brings it to target_lufs); 0 dB for an
    edit that is silent throughout."""
    blocks = [r.loudness_blocks for r in results if r.loudness_blocks is not None]
    before = gated_lufs(np.concatenate(blocks)) if blocks else -math.inf
    return before, (target_lufs - before) if math.isfinite(before) else 0.0


def apply_edit_loudness(results: Sequence[ClipResult], options: RenderOptions) -> tuple[list[ClipResult], dict]:
    """Bring the clips rendered with defer_loudness=True to options.loudness_lufs as one edit. Returns the
    results with their new peak, loudness and gain, and the edit's summary for the report:
    {"scope": "edit", "before_lufs", "gain_db", "lufs"} (lufs: the edit as written, after the limiters).

    Like `spatial.loudness.normalize` for one clip: gain, then each mix's true-peak limiter; limiting costs
    loudness, so while the edit is more than 0.1 LU off the target the (small) remaining gain is applied again,
    at most MAX_ROUNDS times. Stems and diffuse stems take every round's gain and no limiter."""
    if options.loudness_lufs is None:
        return list(results), {"scope": "edit", "lufs": None}
    before, step_db = edit_gain_db(results, options.loudness_lufs)
    out, total_db, after = list(results), 0.0, before
    for _ in range(MAX_ROUNDS if math.isfinite(before) else 0):
        out, after = _apply_gain(out, step_db, options)
        total_db += step_db
        step_db = options.loudness_lufs - after
        if not math.isfinite(after) or abs(step_db) <= LOUDNESS_TOLERANCE_LU:
            break
    finite = lambda v: round(v, 2) if math.isfinite(v) else None
    return out, {"scope": "edit", "before_lufs": finite(before), "gain_db": round(total_db, 4), "lufs": finite(after)}


def _apply_gain(results: Sequence[ClipResult], gain_db: float, options: RenderOptions) -> tuple[list[ClipResult], float]:
    """Every clip's files times one gain (mixes then limited); the results updated, and the edit's loudness."""
    gain = np.float32(10.0 ** (gain_db / 20.0))
    one_clip = partial(_gain_clip, gain=gain, gain_db=gain_db, options=options)
    # The clips are independent files: with --workers N they are rewritten N at a time (soundfile and numpy
    # release the GIL), so the edit's one serial step does not undo the scale-out (bench/bench_render_scale.py).
    threads = max(1, min(options.workers, usable_cores(), len(results)))
    if threads == 1:
        done = [one_clip(r) for r in results]
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="edit-loudness") as pool:
            # each in a copy of this context: a job's confinement holds in the pool's threads (files.py)
            futures = [pool.submit(confined_call(one_clip, r)) for r in results]
            done = [f.result() for f in futures]  # plan order, whatever order they finish in
    blocks = [b for _, b in done if b is not None]
    return [r for r, _ in done], gated_lufs(np.concatenate(blocks)) if blocks else -math.inf


def _gain_clip(r: ClipResult, *, gain: np.float32, gain_db: float,
               options: RenderOptions) -> tuple[ClipResult, np.ndarray | None]:
    """One clip's mix (gained, then limited), stems and diffuse stem times the gain, rewritten atomically; the
    updated result and the mix's gating blocks."""
    subtype = options.settings.output_subtype
    stereo = sf.read(str(r.wav), dtype="float32", always_2d=True)[0].T
    stereo = limit_true_peak(stereo * gain, options.true_peak_dbtp) if stereo.shape[1] else stereo
    write_bwf(r.wav, stereo, time_reference_samples=r.request.time_reference_samples,
              description=f"StereoFoley {__version__}", subtype=subtype, overwrite=True)
    for path in (*r.stems, *((r.diffuse_wav,) if r.diffuse_wav is not None else ())):
        stem = sf.read(str(path), dtype="float32", always_2d=True)[0].T
        write_stem(path, stem * gain, r.request, subtype, overwrite=True)
    loudness = integrated_lufs(stereo) if stereo.shape[1] else -math.inf
    result = replace(r, peak_dbfs=peak_dbfs(stereo), gain_db=r.gain_db + gain_db,
                     loudness_lufs=loudness if math.isfinite(loudness) else None)
    return result, loudness_blocks(stereo) if stereo.shape[1] else None
