"""Library index: a full scan of a generated library vs an incremental rescan from the on-disk cache, one run.

Prints the ratio (full / rescan) and the cost per file, so the 50,000-file case can be extrapolated.
Usage: python bench/bench_library_index.py [N_FILES]   (default 3000)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from stereofoley.sources.library import scan_library

CATIDS = ("VEHCar", "VEHTruck", "DOGBark", "FEETHmn", "BIRDSong", "AMBTraf", "WATRFlow", "DOORWood")


def main(n_files: int = 3000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "library", Path(tmp) / "cache"
        audio = (0.1 * np.random.default_rng(0).standard_normal(4800)).astype(np.float32)
        for i in range(n_files):
            folder = root / CATIDS[i % len(CATIDS)]
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(str(folder / f"{CATIDS[i % len(CATIDS)]}_Take {i}_BN_Bench.wav"), audio, 48_000, subtype="PCM_16")
        t0 = time.perf_counter()
        full = scan_library([root], cache_dir=cache)
        t1 = time.perf_counter()
        again = scan_library([root], cache_dir=cache)
        t2 = time.perf_counter()
        sf.write(str(root / "VEHCar" / "VEHCar_New One_BN_Bench.wav"), audio, 48_000)
        t3 = time.perf_counter()
        changed = scan_library([root], cache_dir=cache)
        t4 = time.perf_counter()
    assert full.stats.parsed == n_files and again.stats.parsed == 0 and changed.stats.parsed == 1
    print(f"library index, {n_files} files: full scan {t1 - t0:.2f} s ({(t1 - t0) / n_files * 1e3:.2f} ms/file), "
          f"cached rescan {t2 - t1:.2f} s ({(t2 - t1) / n_files * 1e3:.3f} ms/file), one file added {t4 - t3:.2f} s")
    print(f"ratio full/rescan: {(t1 - t0) / (t2 - t1):.1f}x; extrapolated to 50,000 files: "
          f"full {(t1 - t0) / n_files * 50_000:.0f} s, rescan {(t2 - t1) / n_files * 50_000:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
