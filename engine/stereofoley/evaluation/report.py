"""A report a person can look at and listen to: per clip a PNG of positions and curves, a preview MP4 with
boxes, track ids and a pan meter muxed with the 48 kHz stereo render, and an HTML index linking them.

Input is a result folder (see `load_results`): a synth-dataset (manifest.json), a timeline report or a job status
file (contracts 3 and 4: clips/results with a "wav" and per-object curves), with boxes from tracks.json files
beside the WAVs when they exist. Plots use matplotlib's Agg canvas directly (no pyplot state); video is decoded
with the vision stage's decoder and encoded with PyAV (H.264 + AAC 48 kHz stereo).
"""

from __future__ import annotations

import functools
import html
import json
import re
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .. import SAMPLE_RATE_HZ
from ..audio import read_audio
from ..spatial.automation import Curve
from ..config import SpatialSettings
from ..errors import InvalidParameter, MediaNotFound, OutputExists
from ..files import atomic_output, read_json, write_text_atomic
from .metric import AudioAnalysis, MetricSettings, analyze_audio
from ..audio import resample
from ..spatial.trajectory import pan_from_x
from ..vision import read_tracks
from ..spatial.automation import curves_for
from ..spatial.trajectory import Trajectory
from ..vision.decode import iter_frames, probe, scaled_size

PREVIEW_FPS = Fraction(25)  # when there is no picture: a meter-only preview
PREVIEW_SIZE = (480, 270)
PREVIEW_MAX_WIDTH = 640
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True, eq=False)
class BoxTrack:
    """Boxes of one object over time, for drawing. xyxy_norm rows are NaN where the object is absent."""

    track_id: int
    label: str
    times_s: np.ndarray  # relative to the clip start
    xyxy_norm: np.ndarray  # (n, 4)

    def box_at(self, t_s: float) -> np.ndarray | None:
        """The box at the last time at or before t_s (within one step), or None."""
        i = int(np.searchsorted(self.times_s, t_s + 1e-6, side="right")) - 1
        if i < 0:
            return None
        if t_s - self.times_s[i] > 1.5 * self.step_s:
            return None
        box = self.xyxy_norm[i]
        return None if np.isnan(box).any() else box

    @functools.cached_property
    def step_s(self) -> float:
        """The usual time between boxes (0.1 s for a single box); computed once, box_at runs every frame."""
        return float(np.median(np.diff(self.times_s))) if self.times_s.size > 1 else 0.1


@dataclass(frozen=True, eq=False)
class ReportClip:
    id: str
    name: str
    wav: Path
    media: Path | None = None  # the picture; None: a meter-only preview
    media_start_s: float = 0.0
    curves: dict[str, dict[str, Curve]] = field(default_factory=dict)  # object -> {"pan": ..., "gain_db": ...}
    boxes: tuple[BoxTrack, ...] = ()
    settings: SpatialSettings = SpatialSettings()


@dataclass(frozen=True)
class ClipOutputs:
    plot_png: Path
    preview_mp4: Path
    duration_s: float


# ---------------------------------------------------------------------------------------------- loading
def load_results(result_dir: str | Path) -> list[ReportClip]:
    """Clips found in a result folder: manifest.json (synth-dataset) first, else every JSON file at the top
    level that holds "clips" (timeline report) or "results" (job status) entries with a "wav"."""
    root = Path(result_dir)
    if not root.is_dir():
        raise MediaNotFound(f"result folder not found: {root}")
    manifest = root / "manifest.json"
    if manifest.is_file():
        return clips_from_dataset(manifest)
    clips: list[ReportClip] = []
    for path, data in _json_objects(root):
        entries = data.get("clips") or data.get("results") or []
        clips += [_clip_from_entry(e, path.parent) for e in entries if isinstance(e, dict) and e.get("wav")]
    if not clips:
        clips = clips_from_clip_outputs(root)
    if not clips:
        raise MediaNotFound(f"{root} holds no results: expected manifest.json, a JSON report with clips and WAVs, "
                            "or WAVs written by `stereofoley clip`")
    return clips


def _json_objects(root: Path):
    """(path, object) for every top-level *.json in root that parses as a JSON object; other files are not results."""
    for path in sorted(root.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict):
            yield path, data


def clips_from_clip_outputs(root: Path) -> list[ReportClip]:
    """What `stereofoley clip` leaves in a folder: its --json summary saved as a file ("output" WAV, "media",
    "start_s"), else each WAV on its own, with the picture from a beside-it .tracks.json (--tracks-out) when
    there is one (else a meter-only preview)."""
    clips: list[ReportClip] = []
    for _, data in _json_objects(root):
        if isinstance(data.get("output"), str) and str(data["output"]).endswith(".wav"):
            wav = _resolve(root, data["output"])
            if wav is not None and wav.is_file():
                clips.append(ReportClip(id=wav.stem, name=wav.stem, wav=wav, media=_resolve(root, data.get("media")),
                                        media_start_s=float(data.get("start_s") or 0.0)))
    listed = {c.wav.resolve() for c in clips}
    for wav in sorted(root.glob("*.wav")):
        if wav.resolve() in listed or re.search(r"\.\d\d\.", wav.name):  # object stems (<mix>.01.<name>.wav)
            continue
        media, start, boxes = None, 0.0, ()
        tracks_path = wav.with_suffix(".tracks.json")
        if tracks_path.is_file():
            analysis = read_tracks(tracks_path)
            media, start = Path(analysis.media_path), float(analysis.start_s)
            boxes = boxes_from_tracks_file(tracks_path)
        clips.append(ReportClip(id=wav.stem, name=wav.stem, wav=wav, media=media if media and media.is_file() else None,
                                media_start_s=start, boxes=boxes))
    return clips


def _resolve(base: Path, value: str | None) -> Path | None:
    if not value:
        return None
    p = Path(value)
    return p if p.is_absolute() else base / p


def _clip_from_entry(entry: dict, base: Path) -> ReportClip:
    wav = _resolve(base, entry["wav"])
    curves = {}
    for i, obj in enumerate(entry.get("objects") or []):
        name = str(obj.get("name") or f"object{i}")
        curves[name] = {k: Curve.from_json(v) for k, v in (obj.get("curves") or {}).items() if v}
    boxes: tuple[BoxTrack, ...] = ()
    tracks_path = wav.with_suffix(".tracks.json")
    if tracks_path.is_file():
        boxes = boxes_from_tracks_file(tracks_path)
    return ReportClip(
        id=str(entry.get("id", wav.stem)),
        name=str(entry.get("name", wav.stem)),
        wav=wav,
        media=_resolve(base, entry.get("media")),
        media_start_s=float(entry.get("media_start_s") or 0.0),
        curves=curves,
        boxes=boxes,
    )


def boxes_from_tracks_file(path: Path) -> tuple[BoxTrack, ...]:
    """Boxes from a vision tracks.json (times relative to the analysis start)."""
    analysis = read_tracks(path)
    return tuple(
        BoxTrack(t.track_id, f"{t.track_id} {t.class_name}", np.asarray(t.times_s), np.asarray(t.xyxy_norm))
        for t in analysis.tracks
    )


def clips_from_dataset(manifest_path: Path) -> list[ReportClip]:
    """One clip per synth-dataset item: the item's video, mix, ground-truth curves and boxes."""

    base = manifest_path.parent
    manifest = _read_json(manifest_path)
    clips = []
    for item in manifest.get("items", []):
        truth = _read_json(base / item["truth"])
        settings = SpatialSettings(**truth["settings"])
        curves, boxes = {}, []
        for k, obj in enumerate(truth["objects"]):
            curves[obj["name"]] = curves_for(Trajectory.from_points(obj["trajectory"]), settings)
            frames = obj["frames"]
            boxes.append(
                BoxTrack(k + 1, f"{k + 1} {obj['class_name']}", np.asarray(frames["times_s"], dtype=np.float64),
                         np.asarray([[math.nan if v is None else v for v in b] for b in frames["xyxy_norm"]], dtype=np.float64))
            )
        clips.append(
            ReportClip(id=item["id"], name=item["id"], wav=base / item["mix"], media=base / item["video"],
                       curves=curves, boxes=tuple(boxes), settings=settings)
        )
    return clips


def _read_json(path: Path) -> dict:
    """A dataset's JSON object, with an error naming the file when it is missing or does not parse."""
    data = read_json(path, what="dataset file", error=InvalidParameter, missing=MediaNotFound)
    if not isinstance(data, dict):
        raise InvalidParameter(f"dataset file {path} holds {type(data).__name__}, not a JSON object")
    return data


# ------------------------------------------------------------------------------------------------- plot
def plot_clip(clip: ReportClip, analysis: AudioAnalysis, path: Path, *, overwrite: bool = False) -> Path:
    """Three panels over time: object position (box centre as pan) with the audio's measured pan, the pan
    curves, the gain curves. Written atomically as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 7), dpi=100)
    FigureCanvasAgg(fig)
    ax_pos, ax_pan, ax_gain = fig.subplots(3, 1, sharex=True)
    for k, track in enumerate(clip.boxes):
        x = (track.xyxy_norm[:, 0] + track.xyxy_norm[:, 2]) / 2.0
        ax_pos.plot(track.times_s, pan_from_x(x, clip.settings), color=COLOURS[k % len(COLOURS)], label=f"box {track.label}")
    ax_pos.plot(analysis.times_s, analysis.pan_primary, color="black", lw=1.2, label="audio (measured)")
    ax_pos.set_ylabel("position (pan)")
    for k, (name, curves) in enumerate(clip.curves.items()):
        colour = COLOURS[k % len(COLOURS)]
        if "pan" in curves:
            ax_pan.plot(curves["pan"].times_s, curves["pan"].values, color=colour, label=name)
        if "gain_db" in curves:
            ax_gain.plot(curves["gain_db"].times_s, np.maximum(curves["gain_db"].values, -60.0), color=colour, label=name)
    finite = np.isfinite(analysis.level_db)
    if finite.any():
        # The audio level, shifted so its peak meets the highest curve: the shapes are what compare.
        peaks = [float(c["gain_db"].values.max()) for c in clip.curves.values() if "gain_db" in c]
        shift = (max(peaks) if peaks else 0.0) - float(analysis.level_db[finite].max())
        ax_gain.plot(analysis.times_s[finite], np.maximum(analysis.level_db[finite] + shift, -60.0), color="black", lw=1.0,
                     ls="--", label="audio level (peak-aligned)")
    ax_pan.set_ylabel("pan curve")
    ax_gain.set_ylabel("gain (dB)")
    ax_gain.set_xlabel("time (s)")
    for ax in (ax_pos, ax_pan):
        ax.set_ylim(-1.05, 1.05)
        ax.axhline(0.0, color="grey", lw=0.5)
    for ax in (ax_pos, ax_pan, ax_gain):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=7)
    fig.suptitle(f"{clip.name}: position and automation")
    with atomic_output(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png")
    return path


# ---------------------------------------------------------------------------------------------- preview
def _frames(clip: ReportClip, duration_s: float) -> tuple[Fraction, tuple[int, int], Callable[[], Iterator[tuple[float, np.ndarray]]]]:
    """Frame rate, size and a generator of (time from clip start, BGR image) for the preview."""
    if clip.media is None:
        w, h = PREVIEW_SIZE

        def blank() -> Iterator[tuple[float, np.ndarray]]:
            for k in range(int(round(duration_s * PREVIEW_FPS))):
                yield k / float(PREVIEW_FPS), np.full((h, w, 3), 24, dtype=np.uint8)

        return PREVIEW_FPS, (w, h), blank

    info = probe(clip.media)
    fps = info.fps if info.fps else PREVIEW_FPS
    size = scaled_size(info.width, info.height, PREVIEW_MAX_WIDTH)
    end_s = min(clip.media_start_s + duration_s, info.duration_s)

    def decoded() -> Iterator[tuple[float, np.ndarray]]:
        # One output frame per 1/fps; a missing picture (the video is shorter) repeats the last one.
        n_out = int(round(duration_s * fps))
        last = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        source = iter_frames(clip.media, start_s=clip.media_start_s, end_s=end_s, analysis_fps=float(fps), max_width=PREVIEW_MAX_WIDTH)
        pending = next(source, None)
        for k in range(n_out):
            t = k / float(fps)
            while pending is not None and pending.time_s - clip.media_start_s <= t + 0.5 / float(fps):
                last = pending.image
                pending = next(source, None)
            yield t, last

    return fps, size, decoded


def _bgr(k: int) -> tuple[int, int, int]:
    """The k-th plot colour (hex "#rrggbb") as OpenCV's (blue, green, red)."""
    colour = COLOURS[k % len(COLOURS)]
    return int(colour[5:7], 16), int(colour[3:5], 16), int(colour[1:3], 16)


def _draw_overlay(image: np.ndarray, clip: ReportClip, t_s: float, analysis: AudioAnalysis, window: int) -> np.ndarray:
    import cv2

    img = np.ascontiguousarray(image.copy())
    h, w = img.shape[:2]
    for k, track in enumerate(clip.boxes):
        box = track.box_at(t_s)
        if box is None:
            continue
        rgb = _bgr(k)
        x0, y0, x1, y1 = (np.clip(box, -0.1, 1.1) * [w, h, w, h]).round().astype(int)
        cv2.rectangle(img, (x0, y0), (x1, y1), rgb, 2)
        cv2.putText(img, track.label, (max(2, x0 + 2), max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, rgb, 1, cv2.LINE_AA)
    # Pan meter: a bar along the bottom; L and R level bars from the centre, a white tick at the measured pan.
    bar_y = h - 14
    cv2.rectangle(img, (0, bar_y - 6), (w - 1, h - 1), (0, 0, 0), -1)
    cv2.line(img, (w // 2, bar_y - 6), (w // 2, h - 1), (120, 120, 120), 1)
    ild = float(analysis.ild_db[window])
    level = float(analysis.level_db[window])
    loud = 0.0 if not math.isfinite(level) else float(np.clip((level + 60.0) / 60.0, 0.0, 1.0))
    left_share = 1.0 / (1.0 + 10.0 ** (ild / 10.0))  # E_L / (E_L + E_R)
    half = w // 2 - 4
    cv2.rectangle(img, (w // 2 - int(half * loud * left_share), bar_y - 3), (w // 2, bar_y), (200, 160, 60), -1)
    cv2.rectangle(img, (w // 2, bar_y - 3), (w // 2 + int(half * loud * (1 - left_share)), bar_y), (60, 60, 220), -1)
    for k, curves in enumerate(clip.curves.values()):  # each object's pan automation: a coloured tick above
        if "pan" in curves:
            colour = _bgr(k)
            xk = int(round((float(curves["pan"].value_at(t_s)) + 1.0) / 2.0 * (w - 1)))
            cv2.rectangle(img, (xk - 2, bar_y - 6), (xk + 2, bar_y - 4), colour, -1)
    x = int(round((float(analysis.pan_primary[window]) + 1.0) / 2.0 * (w - 1)))
    cv2.rectangle(img, (x - 2, bar_y + 2), (x + 2, h - 2), (255, 255, 255), -1)
    cv2.putText(img, "L", (3, h - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(img, "R", (w - 10, h - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def write_preview(clip: ReportClip, stereo: np.ndarray, analysis: AudioAnalysis, path: Path, *, overwrite: bool = False) -> Path:
    """The clip with boxes, ids and the pan meter, H.264, muxed with the 48 kHz stereo render as AAC."""
    import av

    duration_s = stereo.shape[1] / SAMPLE_RATE_HZ
    fps, (w, h), frames = _frames(clip, duration_s)
    window_s = float(analysis.times_s[1] - analysis.times_s[0]) if analysis.times_s.size > 1 else duration_s
    with atomic_output(path, overwrite=overwrite) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            video = container.add_stream("libx264", rate=fps)
            video.width, video.height, video.pix_fmt = w, h, "yuv420p"
            video.options = {"crf": "23", "preset": "veryfast"}
            audio = container.add_stream("aac", rate=SAMPLE_RATE_HZ, layout="stereo")
            for t, image in frames():
                window = min(int(t / window_s), analysis.times_s.size - 1)
                if image.shape[1] != w or image.shape[0] != h:
                    import cv2

                    image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
                frame = av.VideoFrame.from_ndarray(_draw_overlay(image, clip, t, analysis, window), format="bgr24")
                for packet in video.encode(frame):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
            samples = np.ascontiguousarray(np.clip(stereo, -1.0, 1.0).astype(np.float32))
            block = 1024  # the AAC frame size; the resampler inside PyAV re-blocks anyway
            for start in range(0, samples.shape[1], block * 16):
                chunk = av.AudioFrame.from_ndarray(samples[:, start : start + block * 16], format="fltp", layout="stereo")
                chunk.sample_rate = SAMPLE_RATE_HZ
                chunk.pts = start
                for packet in audio.encode(chunk):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    return path


# ------------------------------------------------------------------------------------------------- index
def render_clip_report(clip: ReportClip, out_dir: Path, *, overwrite: bool = False) -> ClipOutputs:
    data, rate = read_audio(clip.wav)
    stereo = resample(data if data.shape[0] == 2 else np.vstack([data[0], data[0]]), rate)
    analysis = analyze_audio(stereo, SAMPLE_RATE_HZ, MetricSettings.matching(clip.settings))
    stem = _safe(clip.id)
    png = plot_clip(clip, analysis, out_dir / f"{stem}.png", overwrite=overwrite)
    mp4 = write_preview(clip, stereo, analysis, out_dir / f"{stem}.preview.mp4", overwrite=overwrite)
    return ClipOutputs(plot_png=png, preview_mp4=mp4, duration_s=stereo.shape[1] / SAMPLE_RATE_HZ)


def write_report(result_dir: str | Path, out_dir: str | Path | None = None, *, overwrite: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Plots, previews and index.html for every clip of a result folder (default output: RESULT_DIR/report)."""
    clips = load_results(result_dir)
    out = Path(out_dir) if out_dir is not None else Path(result_dir) / "report"
    index = out / "index.html"
    if index.exists() and not overwrite:
        raise OutputExists(f"{index} already exists; set overwrite=True to replace it")
    rows, summary = [], []
    for i, clip in enumerate(clips):
        outputs = render_clip_report(clip, out, overwrite=overwrite)
        summary.append({"id": clip.id, "name": clip.name, "plot": str(outputs.plot_png), "preview": str(outputs.preview_mp4),
                        "duration_s": outputs.duration_s})
        rows.append(
            f"<section><h2>{html.escape(clip.name)}</h2>"
            f"<p>{outputs.duration_s:.2f} s · audio <code>{html.escape(str(clip.wav))}</code></p>"
            f'<video controls width="640" src="{html.escape(outputs.preview_mp4.name)}"></video>'
            f'<p><a href="{html.escape(outputs.plot_png.name)}"><img src="{html.escape(outputs.plot_png.name)}" width="640"></a></p>'
            "</section>"
        )
        if progress:
            progress(i + 1, len(clips))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>StereoFoley report</title>"
        "<style>body{font-family:sans-serif;max-width:720px;margin:2em auto}section{margin-bottom:3em}</style>"
        f"</head><body><h1>StereoFoley report</h1><p>{len(clips)} clip(s) from <code>{html.escape(str(result_dir))}</code>. "
        "Each preview shows the boxes and track ids, and a pan meter: blue/red bars are the left/right level, the white "
        "tick the measured position.</p>" + "".join(rows) + "</body></html>"
    )
    write_text_atomic(index, page, overwrite=overwrite)
    return {"ok": True, "index": str(index), "clips": summary}


def _safe(name: str) -> str:
    out = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    if not out:
        raise InvalidParameter(f"clip id {name!r} gives an empty file name")
    return out
