"""What a clip renderer is asked for: a media range, the record length in samples, and where it sits in time.

`clip_request` turns a picture clip of an edit into one; `usecases.clip.request_for_media` makes one for a bare
media range. All rounding to samples happens in `timemap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .. import SAMPLE_RATE_HZ
from ..errors import InvalidParameter
from .media import file_offset_s
from .plan import PictureClip
from .timemap import sample_index, sample_span

MAX_CLIP_S = 6 * 3600.0  # the longest clip (record range plus handles) one request may ask for


@dataclass(frozen=True)
class ClipRequest:
    """Media seconds are file seconds (0 = the first frame of the file). The audio spans the record range plus
    the transition handles: n_samples = head_samples + record_samples + tail_samples."""

    clip_id: str
    name: str
    media_path: Path
    media_start_s: float
    media_end_s: float
    n_samples: int
    speed: float = 1.0  # media seconds per record second; 0: a freeze frame (the media range is one frame)
    head_samples: int = 0
    tail_samples: int = 0
    time_reference_samples: int = 0  # BWF TimeReference of the record range's first sample (since midnight)
    record_duration_s: float | None = None  # the exact record length (curves end here, as the host's item does)

    def __post_init__(self) -> None:
        if min(self.n_samples, self.head_samples, self.tail_samples) < 0 or self.record_samples < 0:
            raise InvalidParameter(f"clip {self.name} ({self.clip_id}): sample counts n={self.n_samples}, "
                                   f"head={self.head_samples}, tail={self.tail_samples} do not add up")
        if self.n_samples > MAX_CLIP_S * SAMPLE_RATE_HZ:  # a 1000-hour freeze frame: refuse, do not allocate
            raise InvalidParameter(f"clip {self.name} ({self.clip_id}) lasts {self.n_samples / SAMPLE_RATE_HZ / 3600:.1f} h "
                                   f"with handles; one clip is capped at MAX_CLIP_S={MAX_CLIP_S:.0f} s")

    @property
    def record_samples(self) -> int:
        return self.n_samples - self.head_samples - self.tail_samples


def clip_request(c: PictureClip, media_path: Path, global_start_s: Fraction = Fraction(0)) -> ClipRequest:
    """The request for a picture clip: file seconds (handles included) and exact sample counts."""
    offset = file_offset_s(c.clip)
    media_start, media_end = c.media_range_s(with_handles=True)
    head, tail = (c.head_s, c.tail_s) if c.speed > 0 else (Fraction(0), Fraction(0))
    first, n_record = sample_span(c.record_start_s, c.record_end_s)
    head_n = first - sample_index(c.record_start_s - head)
    tail_n = sample_index(c.record_end_s + tail) - (first + n_record)
    return ClipRequest(
        clip_id=c.id, name=c.name, media_path=media_path,
        media_start_s=float(media_start - offset), media_end_s=float(media_end - offset),
        speed=float(c.speed), n_samples=head_n + n_record + tail_n, head_samples=head_n, tail_samples=tail_n,
        time_reference_samples=sample_index(global_start_s + c.record_start_s),
        record_duration_s=float(c.record_duration_s),
    )
