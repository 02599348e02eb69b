"""The default clip renderer: the vision pipeline (`stereofoley.pipeline.render_clip`) per clip request.

At normal speed the pipeline's mix is used as is (fitted to the exact record sample count: the pipeline
rounds (end - start) * 48000 from float seconds, which can differ from the rational record span by one
sample). A time-warped clip is analysed over the media it actually shows, then its objects are re-rendered
over the record duration: trajectory times divided by the speed, sources generated at the record length.
A freeze frame shows one media frame; trackers need motion, so the renderer analyses FREEZE_CONTEXT_S around
it and holds the placement at the frozen instant for the whole record range.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidParameter
from ..spatial.mix import SoundObject, render_mix
from ..spatial.trajectory import Trajectory

# More than this between the pipeline's sample count and the record span is a real mismatch, not rounding.
_MAX_ROUNDING_SAMPLES = 2
FREEZE_CONTEXT_S = 0.5


def make_vision_renderer(options):
    from ..pipeline import neutral_source, render_clip  # lazy: vision pulls in torch/av

    from .render import ClipAudio, ObjectAudio

    def render(request) -> ClipAudio:
        base_source = _source_factory(options, request) or neutral_source
        tracks = {}

        def source_for(track, n_samples):
            tracks[f"{track.class_name}-{track.track_id}"] = track
            return base_source(track, n_samples)

        start_s, end_s, frozen_at_s = request.media_start_s, request.media_end_s, None
        if request.speed == 0:
            from ..vision import probe

            frozen_at = request.media_start_s
            start_s = max(0.0, frozen_at - FREEZE_CONTEXT_S)
            end_s = min(probe(request.media_path).duration_s, frozen_at + FREEZE_CONTEXT_S)
            end_s = max(end_s, request.media_end_s)
            frozen_at_s = frozen_at - start_s
        result = render_clip(
            request.media_path, start_s=start_s, end_s=end_s,
            detector=options.detector, weights=options.weights, settings=request.settings,
            max_objects=options.max_objects, source_for=source_for,
        )
        n = request.n_samples
        if request.speed == 1.0 and abs(result.stereo.shape[1] - n) <= _MAX_ROUNDING_SAMPLES:
            stereo = _loudness(options, fit_length(result.stereo, n))
            objects = tuple(ObjectAudio(o.name, o.class_name, fit_length(o.source[None, :], n)[0], o.trajectory)
                            for o in result.objects)
            # Boxes line up with the written audio only when no head handle precedes the record range.
            return ClipAudio(stereo, objects, result.analysis if request.head_samples == 0 else None)
        objects = []
        for o in result.objects:
            track = tracks.get(o.name)
            source = base_source(track, n) if track is not None else fit_length(o.source[None, :], n)[0]
            objects.append(ObjectAudio(o.name, o.class_name, np.asarray(source, dtype=np.float32),
                                       retime(o.trajectory, request.speed, frozen_at_s or 0.0)))
        stereo = render_mix([SoundObject(o.name, o.source, o.trajectory) for o in objects], request.settings, n)
        return ClipAudio(_loudness(options, stereo), tuple(objects))

    return render


def retime(trajectory: Trajectory, speed: float, frozen_at_s: float = 0.0) -> Trajectory:
    """Media-time trajectory -> record time: times / speed; speed 0 (a freeze) holds the placement at
    frozen_at_s (seconds on the trajectory's own clock)."""
    if speed < 0:
        raise InvalidParameter(f"speed={speed} must not be negative")
    if speed == 0:
        at = lambda values: float(np.interp(frozen_at_s, trajectory.times_s, values))
        return Trajectory.constant(pan=at(trajectory.pan), distance_m=at(trajectory.distance_m),
                                   gain_db=at(trajectory.gain_db))
    return Trajectory(times_s=trajectory.times_s / speed, pan=trajectory.pan, distance_m=trajectory.distance_m,
                      gain_db=trajectory.gain_db)


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """(channels, m) -> (channels, n): trim the end, or pad the end with zeros."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.shape[1] >= n:
        return audio[:, :n]
    return np.pad(audio, ((0, 0), (0, n - audio.shape[1])))


def _source_factory(options, request):
    """A `source_for` from the sources package when one is named (None: the pipeline's neutral source)."""
    if not options.sources or options.sources == "neutral":
        return None
    from ..sources import make_source_for

    return make_source_for(options.sources, media_path=request.media_path, media_start_s=request.media_start_s,
                           libraries=options.libraries, class_map=options.class_map, seed=options.seed)


def _loudness(options, stereo: np.ndarray) -> np.ndarray:
    """The clip's mix normalised to options.loudness_lufs under the true-peak ceiling (unchanged when None)."""
    if options.loudness_lufs is None:
        return stereo
    from ..sources.loudness import normalize

    return normalize(stereo, options.loudness_lufs, options.true_peak_dbtp)
