"""Vision: from a video clip to tracked objects with horizontal position and distance over time.

decode (PyAV) → detect (YOLO or motion) → track (ByteTrack / BoT-SORT) → trajectories (smoothing, azimuth,
distance). `analyze_video` runs all of it; `write_tracks` / `read_tracks` keep the result as tracks.json.
"""

from .analyze import analyze_video
from .decode import MediaInfo, probe
from .detect import DEFAULT_WEIGHTS, DETECTORS, Detections, MotionDetector, YoloDetector, make_detector
from .tracks import Analysis, ObjectTrack, read_tracks, write_tracks

__all__ = [
    "Analysis", "DEFAULT_WEIGHTS", "DETECTORS", "Detections", "MediaInfo", "MotionDetector", "ObjectTrack",
    "YoloDetector", "analyze_video", "make_detector", "probe", "read_tracks", "write_tracks",
]
