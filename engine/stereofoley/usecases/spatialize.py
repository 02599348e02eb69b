"""One mono source along one trajectory into a 48 kHz stereo WAV: `stereofoley spatialize` and spatialize jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import SAMPLE_RATE_HZ
from ..audio import read_mono, write_wav
from ..config import SpatialSettings
from ..errors import OutputExists
from ..spatial.mix import SoundObject, peak_dbfs, render_mix
from ..spatial.trajectory import Trajectory


def spatialize_file(source: str | Path, trajectory: Trajectory, out: str | Path, *, settings: SpatialSettings,
                    overwrite: bool = False, name: str = "source") -> dict[str, Any]:
    """Render `source` (any rate, channels averaged) along `trajectory`; the WAV has exactly the source's duration."""
    out = Path(out)
    if out.exists() and not overwrite:  # fail before reading or rendering anything
        raise OutputExists(f"{out} already exists; set overwrite=True to replace it")
    mono = read_mono(source)
    stereo = render_mix([SoundObject(name, mono, trajectory, class_name="source")], settings, mono.size)
    write_wav(out, stereo, subtype=settings.output_subtype, overwrite=overwrite)
    return {
        "ok": True, "output": str(out.resolve()), "sample_rate_hz": SAMPLE_RATE_HZ, "channels": 2,
        "samples": int(stereo.shape[1]), "duration_s": stereo.shape[1] / SAMPLE_RATE_HZ,
        "peak_dbfs": round(peak_dbfs(stereo), 2),
        "latency_samples": 0,  # the dry path adds none (tests/spatial: an impulse lands on its own sample)
        "settings": settings.to_dict(),
    }
