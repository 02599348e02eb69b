"""Generated test videos with exact ground truth: sprites moving over textured, noisy backgrounds.

Describe a scene (`Scene` of `Sprite`s, each moving through keyframes), then `write_video(scene, path)` encodes it
to an H.264 MP4 with PyAV and returns the `GroundTruth`: per frame, each object's full box (possibly beyond the
frame edges), whether any of it is on screen, its centre and its true distance (pinhole camera of the scene's
field of view). `ground_truth(scene)` gives the same without writing a file. `SCENES` holds the named scenes
the tests and the evaluation use (passing vehicle, approaching object, leaving and re-entering, two crossing,
hard cut; and for moving cameras: hand-held pass, large slow receding object, two crossing in front of a pole,
static-only), each a function taking keyword overrides of `Scene` fields.

A `Camera` makes the shot hand-held: the world (background, poles, sprites) is drawn on a canvas larger than the
frame, and each frame is that canvas seen through a camera that shakes, rolls and drifts; the ground truth is
where each object appears in the frame (the bounds of its rotated box). `flicker` adds texture that changes
every frame without anything moving: swaying grass along the bottom and shimmering water along the top.

Keyframes are (t_s, cx_norm, cy_norm, height_norm): centre in 0..1 of frame width/height (outside 0..1 is off
screen) and box height in 0..1 of frame height; between keyframes everything moves linearly, and a sprite exists
only from its first keyframe to its last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np

from ..errors import InvalidParameter
from ..files import atomic_output

SHAPES = ("car", "box", "ellipse", "person")
BACKGROUNDS = ("texture", "flat", "gradient")


@dataclass(frozen=True)
class Sprite:
    name: str
    keyframes: tuple[tuple[float, float, float, float], ...]  # (t_s, cx_norm, cy_norm, height_norm)
    shape: str = "car"
    class_name: str = "car"
    aspect: float = 2.2  # box width / height in pixels
    color_bgr: tuple[int, int, int] = (40, 40, 220)
    height_m: float = 1.5  # true height, for the ground-truth distance

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise InvalidParameter(f"sprite {self.name!r}: shape={self.shape!r} is not allowed; choose one of {', '.join(SHAPES)}")
        times = [k[0] for k in self.keyframes]
        if not times or any(b <= a for a, b in zip(times, times[1:])):
            raise InvalidParameter(f"sprite {self.name!r}: keyframe times must be non-empty and increasing, got {times}")

    def state_at(self, t: float) -> tuple[float, float, float] | None:
        """(cx_norm, cy_norm, height_norm) at time t, or None outside the sprite's life."""
        k = np.asarray(self.keyframes, dtype=np.float64)
        if t < k[0, 0] - 1e-9 or t > k[-1, 0] + 1e-9:
            return None
        return tuple(float(np.interp(t, k[:, 0], k[:, j])) for j in (1, 2, 3))


@dataclass(frozen=True)
class Camera:
    """A hand-held camera: shake (sum of three sines per axis, peak `shake_frac` of the frame width), roll
    (peak `roll_deg`, about the frame centre) and a steady drift (fractions of the frame width per second)."""

    shake_frac: float = 0.02
    roll_deg: float = 1.0
    drift_x_per_s: float = 0.03  # the camera pans right: the world moves left in the frame
    drift_y_per_s: float = 0.005
    seed: int = 0

    def pose(self, t: float) -> tuple[float, float, float]:
        """(dx, dy) camera offset in fractions of the frame width, and roll in radians, at time t."""
        phases = np.random.default_rng(self.seed).uniform(0.0, 2.0 * math.pi, size=7)
        wave = [(0.5, 0.7), (0.3, 1.9), (0.2, 3.3)]  # (weight, Hz): weights sum to 1, so |shake| <= shake_frac
        sx = sum(a * math.sin(2 * math.pi * f * t + phases[i]) for i, (a, f) in enumerate(wave))
        sy = sum(a * math.sin(2 * math.pi * f * 1.13 * t + phases[3 + i]) for i, (a, f) in enumerate(wave))
        roll = math.radians(self.roll_deg) * math.sin(2 * math.pi * 0.45 * t + phases[6])
        return self.shake_frac * sx + self.drift_x_per_s * t, self.shake_frac * sy + self.drift_y_per_s * t, roll

    def margin_frac(self, duration_s: float) -> float:
        """Canvas margin around the frame (fraction of width) that no pose of the shot can see past."""
        return self.shake_frac + max(abs(self.drift_x_per_s), abs(self.drift_y_per_s)) * duration_s + math.radians(abs(self.roll_deg)) + 0.02


@dataclass(frozen=True)
class Scene:
    sprites: tuple[Sprite, ...] = ()
    width: int = 320
    height: int = 180
    fps: Fraction = Fraction(25)
    duration_s: float = 3.0
    background: str = "texture"
    noise_std: float = 0.0  # per-frame Gaussian noise in grey levels (sensor noise, grain)
    seed: int = 0
    cuts_s: tuple[float, ...] = ()  # hard cuts: the background (a new random scene) changes here
    hfov_deg: float = 60.0
    camera: Camera | None = None  # None: a locked-off camera (the frame is the world)
    poles_x: tuple[float, ...] = ()  # static dark vertical poles in the world, centre x (0..1 of width)
    flicker: bool = False  # swaying grass (bottom 25 %) and shimmering water (top 20 %) in the world

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise InvalidParameter(f"background={self.background!r} is not allowed; choose one of {', '.join(BACKGROUNDS)}")
        if self.width % 2 or self.height % 2 or self.width < 32 or self.height < 32:
            raise InvalidParameter(f"frame size {self.width}x{self.height} must be even and at least 32x32 pixels")
        if not self.duration_s > 0:
            raise InvalidParameter(f"duration_s={self.duration_s} must be positive")
        object.__setattr__(self, "fps", Fraction(self.fps))

    @property
    def n_frames(self) -> int:
        return int(math.floor(self.duration_s * self.fps + 1e-9))

    def frame_times_s(self) -> np.ndarray:
        return np.arange(self.n_frames) / float(self.fps)


@dataclass(frozen=True, eq=False)
class ObjectTruth:
    name: str
    class_name: str
    xyxy_norm: np.ndarray  # (n_frames, 4) the whole box, NaN where the object does not exist
    on_screen: np.ndarray  # (n_frames,) bool: some of the box is inside the frame
    distance_m: np.ndarray  # (n_frames,) NaN where the object does not exist

    @property
    def x_norm(self) -> np.ndarray:
        return (self.xyxy_norm[:, 0] + self.xyxy_norm[:, 2]) / 2.0

    @property
    def fully_visible(self) -> np.ndarray:
        b = self.xyxy_norm
        with np.errstate(invalid="ignore"):
            return (b[:, 0] >= 0) & (b[:, 2] <= 1) & (b[:, 1] >= 0) & (b[:, 3] <= 1)


@dataclass(frozen=True, eq=False)
class GroundTruth:
    frame_times_s: np.ndarray
    objects: tuple[ObjectTruth, ...]
    cuts_s: tuple[float, ...]
    width: int
    height: int
    fps: Fraction

    def object(self, name: str) -> ObjectTruth:
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise KeyError(f"no object {name!r}; objects: {[o.name for o in self.objects]}")

    def at(self, times_s: np.ndarray, name: str) -> np.ndarray:
        """An object's box at arbitrary times (nearest frame at or before each time)."""
        idx = np.searchsorted(self.frame_times_s, np.asarray(times_s) + 1e-6, side="right") - 1
        return self.object(name).xyxy_norm[np.clip(idx, 0, len(self.frame_times_s) - 1)]


def ground_truth(scene: Scene) -> GroundTruth:
    times = scene.frame_times_s()
    vfov = 2.0 * math.atan(math.tan(math.radians(scene.hfov_deg) / 2.0) * scene.height / scene.width)
    objects = []
    for sprite in scene.sprites:
        boxes = np.full((times.size, 4), np.nan)
        for i, t in enumerate(times):
            state = sprite.state_at(float(t))
            if state is not None:
                boxes[i] = _box_norm(state, sprite.aspect, scene)
                if scene.camera is not None:
                    boxes[i] = _seen_box(boxes[i], scene, float(t))
        with np.errstate(invalid="ignore"):
            on = (boxes[:, 2] > 0) & (boxes[:, 0] < 1) & (boxes[:, 3] > 0) & (boxes[:, 1] < 1)
            distance = sprite.height_m / ((boxes[:, 3] - boxes[:, 1]) * 2.0 * math.tan(vfov / 2.0))
        objects.append(ObjectTruth(sprite.name, sprite.class_name, boxes, on, distance))
    return GroundTruth(times, tuple(objects), tuple(scene.cuts_s), scene.width, scene.height, scene.fps)


def _box_norm(state: tuple[float, float, float], aspect: float, scene: Scene) -> np.ndarray:
    cx, cy, h = state
    w = h * aspect * scene.height / scene.width
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _camera_matrix(scene: Scene, t: float, margin_px: float = 0.0) -> np.ndarray:
    """2x3 affine from world pixels (shifted by margin_px: canvas pixels) to frame pixels at time t."""
    dx, dy, roll = scene.camera.pose(t)
    c = np.array([scene.width / 2.0, scene.height / 2.0])
    rot = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
    shift = c + np.array([dx, dy]) * scene.width + margin_px  # the canvas point seen at the frame centre
    return np.hstack([rot, (c - rot @ shift)[:, None]])


def _seen_box(box_norm: np.ndarray, scene: Scene, t: float) -> np.ndarray:
    """The frame-normalised bounds of a world box seen through the camera at time t."""
    size = np.array([scene.width, scene.height])
    corners = np.array([[box_norm[0], box_norm[1]], [box_norm[2], box_norm[1]], [box_norm[0], box_norm[3]], [box_norm[2], box_norm[3]]]) * size
    m = _camera_matrix(scene, t)
    seen = corners @ m[:, :2].T + m[:, 2]
    seen /= size
    return np.array([seen[:, 0].min(), seen[:, 1].min(), seen[:, 0].max(), seen[:, 1].max()])


def write_video(scene: Scene, path: str | Path, *, overwrite: bool = False, crf: int = 18) -> GroundTruth:
    """Encode the scene as H.264 (yuv420p) MP4 at the scene's rate; return its ground truth."""
    truth = ground_truth(scene)
    backgrounds = _backgrounds(scene)
    with atomic_output(path, overwrite=overwrite) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=scene.fps)
            stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
            for i in range(truth.frame_times_s.size):
                frame = _render(scene, truth, i, backgrounds)
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return truth


def render_frame(scene: Scene, index: int) -> np.ndarray:
    """Frame `index` of the scene as a BGR uint8 image (what write_video encodes), without writing a file."""
    return _render(scene, ground_truth(scene), index, _backgrounds(scene))


def _backgrounds(scene: Scene) -> list[np.ndarray]:
    backgrounds = [_background(scene, seed=scene.seed * 1000 + i) for i in range(len(scene.cuts_s) + 1)]
    m = _margin_px(scene)
    for bg in backgrounds:
        for x in scene.poles_x:  # a dark pole with a lighter stripe, the full height of the world
            x1, x2 = m + (x - 0.012) * scene.width, m + (x + 0.012) * scene.width
            cv2.rectangle(bg, (int(x1 * 16), 0), (int(x2 * 16), bg.shape[0] * 16), (35, 35, 45), -1, cv2.LINE_AA, 4)
            cv2.rectangle(bg, (int((x1 + 0.3 * (x2 - x1)) * 16), 0), (int((x1 + 0.45 * (x2 - x1)) * 16), bg.shape[0] * 16), (150, 150, 160), -1, cv2.LINE_AA, 4)
    return backgrounds


def _flicker(canvas: np.ndarray, scene: Scene, t: float) -> None:
    """Grass swaying (a fine texture displaced by a smooth field oscillating at ~1.3 Hz, up to 1.5 px) from the
    world's bottom quarter down and water shimmering (fine noise whose every pixel brightens and darkens at its own
    phase) from its top fifth up, on the canvas in place; the same at any time t whatever was rendered before."""
    h, w = canvas.shape[:2]
    m = _margin_px(scene)
    rng = np.random.default_rng(scene.seed * 7919 + 1)
    gy = m + int(scene.height * 0.75)
    grass = cv2.resize(rng.normal(0, 1, (max(2, (h - gy) // 2), w // 2, 3)).astype(np.float32), (w, h - gy), interpolation=cv2.INTER_LINEAR)
    grass = np.clip(np.array([40, 120, 60], np.float32) + 35.0 * grass, 0, 255)
    phase = cv2.resize(rng.uniform(0, 2 * math.pi, (4, 12)).astype(np.float32), (w, h - gy), interpolation=cv2.INTER_CUBIC)
    sway = 1.5 * np.sin(2 * math.pi * 1.3 * t + phase)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h - gy, dtype=np.float32))
    canvas[gy:] = cv2.remap(grass, xs + sway, ys + 0.4 * sway, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(np.uint8)
    wy = m + int(scene.height * 0.2)
    sparkle = cv2.resize(rng.normal(0, 1, (wy // 2, w // 2)).astype(np.float32), (w, wy), interpolation=cv2.INTER_LINEAR)
    psi = rng.uniform(0, 2 * math.pi, (wy, w)).astype(np.float32)
    shimmer = 25.0 * sparkle * np.sin(2 * math.pi * 0.9 * t + psi)
    water = np.array([150, 110, 60], np.float32)[None, None, :] + shimmer[:, :, None]
    canvas[:wy] = np.clip(water, 0, 255).astype(np.uint8)


def _margin_px(scene: Scene) -> int:
    return 0 if scene.camera is None else int(math.ceil(scene.camera.margin_frac(scene.duration_s) * scene.width))


def _render(scene: Scene, truth: GroundTruth, index: int, backgrounds: list[np.ndarray]) -> np.ndarray:
    t = truth.frame_times_s[index]
    shot = int(np.searchsorted(np.asarray(scene.cuts_s, dtype=np.float64), t + 1e-9, side="right"))
    frame = backgrounds[shot].copy()
    if scene.camera is None and not scene.flicker:
        for sprite, obj in zip(scene.sprites, truth.objects):
            if not np.isnan(obj.xyxy_norm[index, 0]):
                _draw(frame, sprite, obj.xyxy_norm[index], scene)
    else:  # a world canvas (with flicker), the sprites at their world boxes, then the camera's view of it
        m = _margin_px(scene)
        if scene.flicker:
            _flicker(frame, scene, float(t))
        for sprite in scene.sprites:
            state = sprite.state_at(float(t))
            if state is not None:
                _draw(frame, sprite, _box_norm(state, sprite.aspect, scene), scene, offset_px=m)
        if scene.camera is not None:
            frame = cv2.warpAffine(frame, _camera_matrix(scene, float(t), m), (scene.width, scene.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if scene.noise_std > 0:  # seeded per frame: any frame renders the same alone or in sequence
        rng = np.random.default_rng((scene.seed, index))
        noisy = frame.astype(np.float32) + rng.normal(0.0, scene.noise_std, frame.shape).astype(np.float32)
        frame = np.clip(noisy, 0, 255).astype(np.uint8)
    return frame


def _background(scene: Scene, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = _margin_px(scene)
    w, h = scene.width + 2 * m, scene.height + 2 * m
    base = rng.uniform(60, 200, size=3)
    if scene.background == "flat":
        return np.broadcast_to(base.astype(np.uint8), (h, w, 3)).copy()
    if scene.background == "gradient":
        ramp = np.linspace(0.6, 1.4, w)[None, :, None]
        return np.clip(base[None, None, :] * ramp * np.ones((h, 1, 1)), 0, 255).astype(np.uint8)
    # texture: coloured blobs at three scales plus fine grain, fixed over the shot (a static camera)
    img = np.zeros((h, w, 3), dtype=np.float32)
    for cells, amp in ((4, 50.0), (12, 30.0), (40, 15.0)):
        cells = int(round(cells * w / scene.width))
        coarse = rng.normal(0.0, 1.0, size=(cells * h // w + 2, cells + 2, 3)).astype(np.float32)
        img += amp * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img += base[None, None, :].astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw(frame: np.ndarray, sprite: Sprite, box_norm: np.ndarray, scene: Scene, offset_px: float = 0.0) -> None:
    """Draw the sprite filling box_norm exactly (sub-pixel, anti-aliased); offset_px: the canvas margin."""
    sh = 4  # cv2 fixed-point shift: coordinates in 1/16 pixel
    f = float(1 << sh)
    x1, y1 = box_norm[0] * scene.width + offset_px, box_norm[1] * scene.height + offset_px
    x2, y2 = box_norm[2] * scene.width + offset_px, box_norm[3] * scene.height + offset_px
    w, h = x2 - x1, y2 - y1
    col = tuple(int(c) for c in sprite.color_bgr)
    dark = tuple(int(c * 0.35) for c in sprite.color_bgr)
    light = tuple(int(min(255, c * 0.6 + 100)) for c in sprite.color_bgr)

    def rect(ax, ay, bx, by, c):
        cv2.rectangle(frame, (int(ax * f), int(ay * f)), (int(bx * f), int(by * f)), c, -1, cv2.LINE_AA, sh)

    def ellipse(cx, cy, rx, ry, c):
        cv2.ellipse(frame, (int(cx * f), int(cy * f)), (max(1, int(rx * f)), max(1, int(ry * f))), 0, 0, 360, c, -1, cv2.LINE_AA, sh)

    if sprite.shape == "car":
        r = 0.2 * h
        rect(x1, y1 + 0.4 * h, x2, y2 - r, col)  # body
        rect(x1 + 0.25 * w, y1, x1 + 0.75 * w, y1 + 0.45 * h, col)  # cabin
        rect(x1 + 0.3 * w, y1 + 0.08 * h, x1 + 0.7 * w, y1 + 0.38 * h, light)  # windows
        rect(x1, y1 + 0.55 * h, x2, y1 + 0.62 * h, light)  # a stripe along the body
        for cx in (x1 + 0.22 * w, x1 + 0.78 * w):
            ellipse(cx, y2 - r, r, r, dark)  # wheels touch the bottom of the box
    elif sprite.shape == "box":
        rect(x1, y1, x2, y2, col)
        rect(x1 + 0.2 * w, y1 + 0.2 * h, x2 - 0.2 * w, y2 - 0.2 * h, light)
        rect(x1 + 0.4 * w, y1 + 0.4 * h, x2 - 0.4 * w, y2 - 0.4 * h, dark)
    elif sprite.shape == "ellipse":
        ellipse((x1 + x2) / 2, (y1 + y2) / 2, w / 2, h / 2, col)
        ellipse((x1 + x2) / 2, (y1 + y2) / 2, w / 4, h / 4, light)
    else:  # person: head, torso, legs
        cx = (x1 + x2) / 2
        ellipse(cx, y1 + 0.1 * h, 0.2 * w, 0.1 * h, light)
        rect(x1, y1 + 0.2 * h, x2, y1 + 0.6 * h, col)
        rect(x1 + 0.1 * w, y1 + 0.6 * h, cx - 0.05 * w, y2, dark)
        rect(cx + 0.05 * w, y1 + 0.6 * h, x2 - 0.1 * w, y2, dark)


# ------------------------------------------------------------------------------------------------ scenes
def passing_vehicle(**overrides) -> Scene:
    """A car driving left to right across the frame, entering and leaving it."""
    d = overrides.pop("duration_s", 3.0)
    car = Sprite("car", ((0.0, -0.15, 0.62, 0.22), (d, 1.15, 0.62, 0.22)), shape="car", class_name="car")
    return Scene(sprites=(car,), duration_s=d, **overrides)


def approaching(**overrides) -> Scene:
    """A person-like figure walking diagonally towards the camera, left of centre to right: it grows 4x."""
    d = overrides.pop("duration_s", 3.0)
    person = Sprite("person", ((0.0, 0.25, 0.5, 0.15), (d, 0.62, 0.5, 0.6)), shape="person", class_name="person",
                    aspect=0.45, color_bgr=(200, 120, 30), height_m=1.7)
    return Scene(sprites=(person,), duration_s=d, **overrides)


def leave_reenter(**overrides) -> Scene:
    """A box leaves to the right, stays off-screen, then comes back in from the right."""
    d = overrides.pop("duration_s", 4.0)
    box = Sprite("box", ((0.0, 0.5, 0.55, 0.25), (1.2, 1.3, 0.55, 0.25), (2.2, 1.3, 0.55, 0.25), (d, 0.6, 0.55, 0.25)),
                 shape="box", class_name="object", aspect=1.2, color_bgr=(30, 200, 60), height_m=1.0)
    return Scene(sprites=(box,), duration_s=d, **overrides)


def crossing(**overrides) -> Scene:
    """Two objects crossing: one left to right, the other right to left a little lower (nearer)."""
    d = overrides.pop("duration_s", 3.0)
    a = Sprite("a", ((0.0, 0.12, 0.5, 0.2), (d, 0.88, 0.5, 0.2)), shape="box", class_name="object", aspect=1.0,
               color_bgr=(220, 60, 40), height_m=1.0)
    b = Sprite("b", ((0.0, 0.88, 0.62, 0.24), (d, 0.12, 0.62, 0.24)), shape="ellipse", class_name="object",
               aspect=1.0, color_bgr=(40, 220, 230), height_m=1.0)
    return Scene(sprites=(a, b), duration_s=d, **overrides)


def hard_cut(**overrides) -> Scene:
    """Shot 1: a car passing left to right; a hard cut at half time; shot 2, elsewhere: a box moving right to left."""
    d = overrides.pop("duration_s", 3.0)
    cut = d / 2
    car = Sprite("car", ((0.0, 0.15, 0.6, 0.22), (cut - 1e-3, 0.75, 0.6, 0.22)), shape="car", class_name="car")
    box = Sprite("box", ((cut, 0.8, 0.45, 0.3), (d, 0.3, 0.45, 0.3)), shape="box", class_name="object", aspect=1.0,
                 color_bgr=(200, 200, 40), height_m=1.0)
    return Scene(sprites=(car, box), duration_s=d, cuts_s=(cut,), **overrides)


HANDHELD = Camera(shake_frac=0.02, roll_deg=1.0, drift_x_per_s=0.03, drift_y_per_s=0.005)


def handheld_pass(**overrides) -> Scene:
    """A car passing left to right, filmed hand-held: shake +-2 % of the width, 1 degree roll, slow drift."""
    d = overrides.pop("duration_s", 4.0)
    car = Sprite("car", ((0.0, -0.15, 0.62, 0.22), (d, 1.15, 0.62, 0.22)), shape="car", class_name="car")
    return Scene(sprites=(car,), duration_s=d, **{"camera": HANDHELD, **overrides})


def receding(**overrides) -> Scene:
    """A large box (20 % of the width at first) receding slowly and drifting right: half its size after 8 s."""
    d = overrides.pop("duration_s", 8.0)
    box = Sprite("box", ((0.0, 0.38, 0.55, 0.30), (d, 0.56, 0.5, 0.15)), shape="box", class_name="object", aspect=1.2,
                 color_bgr=(60, 90, 210), height_m=1.0)
    return Scene(sprites=(box,), duration_s=d, **overrides)


def crossing_pole(**overrides) -> Scene:
    """Two objects crossing each other in front of a static pole at the centre, filmed hand-held."""
    d = overrides.pop("duration_s", 4.0)
    a = Sprite("a", ((0.0, 0.1, 0.45, 0.22), (d, 0.9, 0.45, 0.22)), shape="person", class_name="person", aspect=0.45,
               color_bgr=(220, 60, 40), height_m=1.7)
    b = Sprite("b", ((0.0, 0.9, 0.55, 0.26), (d, 0.1, 0.55, 0.26)), shape="person", class_name="person", aspect=0.45,
               color_bgr=(40, 200, 230), height_m=1.7)
    return Scene(sprites=(a, b), duration_s=d, **{"camera": HANDHELD, "poles_x": (0.5,), **overrides})


def static_only(**overrides) -> Scene:
    """Nothing moves: a pole, swaying grass and shimmering water, filmed hand-held."""
    d = overrides.pop("duration_s", 6.0)
    return Scene(sprites=(), duration_s=d, **{"camera": HANDHELD, "poles_x": (0.3, 0.7), "flicker": True, **overrides})


SCENES: dict[str, Callable[..., Scene]] = {
    "passing_vehicle": passing_vehicle,
    "approaching": approaching,
    "leave_reenter": leave_reenter,
    "crossing": crossing,
    "hard_cut": hard_cut,
    "handheld_pass": handheld_pass,
    "receding": receding,
    "crossing_pole": crossing_pole,
    "static_only": static_only,
}


def scene(name: str, **overrides) -> Scene:
    try:
        return SCENES[name](**overrides)
    except KeyError:
        raise InvalidParameter(f"unknown scene {name!r}; choose one of {', '.join(SCENES)}") from None
