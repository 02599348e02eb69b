"""Clip mixers that tests hand to Dask workers. Workers import them by module name, so they live here, in a
module whose name is unique on the test path and that imports no `conftest` (tests/*/conftest.py share that
name, and a worker's sys.path holds every test folder in collection order)."""

from __future__ import annotations

import time

import numpy as np

from stereofoley.usecases.clip import ClipMix, mix_clip


class FixedMixer:
    """Each media file (by stem) gets a fixed stereo mix, no objects."""

    def __init__(self, mixes: dict[str, np.ndarray]):
        self.mixes = mixes

    def __call__(self, request, options, progress=None):
        x = self.mixes[request.media_path.stem]
        return ClipMix(np.tile(x, (2, 1))[:, :request.n_samples].astype(np.float32), (), None, "fixed")


class MemoryHog:
    """The pipeline's mixer, except that the clip named `name` holds 3 GiB while it renders (a worker past its
    memory limit)."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, request, options, progress=None):
        if request.name == self.name:
            hog = np.ones(3 * 2**30 // 8)  # touched: resident
            time.sleep(30)  # the Nanny's memory monitor (every 100 ms) ends the worker long before this
            del hog
        return mix_clip(request, options, progress)
