"""Progress for long commands: a tqdm bar on a terminal, one line per item otherwise, nothing with --quiet.

`progress(label)` is a context manager yielding a callback fed with fractions 0..1 (the same callbacks the engine
calls for OSC clients, so the engine needs nothing else). On a TTY the bar is redrawn in place and removed at the
end; on a pipe or a log file nothing is printed while working and one line (`label: done in 3.2 s`) at the end,
so a batch of N clips writes N lines. Everything goes to stderr (stdout stays one JSON document with --json).
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable, Iterator, TextIO

from tqdm import tqdm


@contextlib.contextmanager
def progress(label: str, *, quiet: bool = False, stream: TextIO | None = None, tty: bool | None = None,
             redraw_s: float = 0.1) -> Iterator[Callable[[float], None]]:
    """Yield `update(fraction)`; tty None: whether `stream` (default stderr) is a terminal; the bar is redrawn
    at most every redraw_s seconds."""
    stream = stream if stream is not None else sys.stderr
    if quiet:
        yield lambda fraction: None
        return
    if tty is None:
        tty = bool(getattr(stream, "isatty", lambda: False)())
    t0 = time.perf_counter()
    if tty:
        with tqdm(total=1000, desc=label, file=stream, leave=False, dynamic_ncols=True, mininterval=redraw_s,
                  bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}") as bar:
            def update(fraction: float) -> None:
                bar.update(max(0, min(1000, int(fraction * 1000)) - bar.n))

            yield update
        return
    done = [0.0]

    def update(fraction: float) -> None:
        done[0] = max(done[0], fraction)

    yield update
    print(f"{label}: done in {time.perf_counter() - t0:.1f} s", file=stream, flush=True)
