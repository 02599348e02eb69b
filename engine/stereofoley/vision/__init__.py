"""Vision: from a video clip to tracked objects with horizontal position and distance over time.

decode (PyAV) → detect (YOLO or motion) → track (ByteTrack / BoT-SORT) → trajectories (smoothing, azimuth,
distance). `analyze_video` runs all of it; `write_tracks` / `read_tracks` keep the result as tracks.json.
"""

from .analyze import analysis_key, analyze_video
from .cache import AnalysisCache
from .decode import MediaInfo, probe
from .detect import DEFAULT_WEIGHTS, Detections, MotionDetector, YoloDetector, detector_from_options, make_detector
from .options import DETECTORS, DetectorOptions, auto_imgsz
from .tracks import Analysis, ObjectTrack, read_tracks, write_tracks

__all__ = [
    "Analysis", "AnalysisCache", "DEFAULT_WEIGHTS", "DETECTORS", "DetectorOptions", "Detections", "MediaInfo",
    "MotionDetector", "ObjectTrack", "YoloDetector", "analysis_key", "analyze_video", "auto_imgsz",
    "detector_from_options", "make_detector", "probe", "read_tracks", "write_tracks",
]
