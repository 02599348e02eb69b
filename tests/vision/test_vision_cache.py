"""The analysis cache: hits load no model and run no detector, entries are whole under concurrent writers, and the
folder stays within its size bound (least recently used go first; old entries go)."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import OrderedDict
from dataclasses import replace

import pytest
import tiny_yolo

from stereofoley.errors import InvalidParameter
from stereofoley.vision import AnalysisCache, DetectorOptions, YoloDetector, analyze_video, read_tracks
from stereofoley.vision import detect
from stereofoley.vision.cache import MAX_BYTES_ENV

SPRITES = str(tiny_yolo.COMMITTED)


@pytest.fixture
def counting(monkeypatch):
    """Counts YOLO model loads and frames the YOLO network sees, across every detector made in the test."""
    calls = {"loads": 0, "frames": 0}
    real_init, real_batch = YoloDetector.__init__, YoloDetector.detect_batch

    def init(self, *args, **kwargs):
        calls["loads"] += 1
        real_init(self, *args, **kwargs)

    def batch(self, images):
        calls["frames"] += len(images)
        return real_batch(self, images)

    monkeypatch.setattr(detect, "_MODELS", OrderedDict())  # models loaded by earlier tests do not count
    monkeypatch.setattr(YoloDetector, "__init__", init)
    monkeypatch.setattr(YoloDetector, "detect_batch", batch)
    return calls


def test_a_repeated_analysis_is_served_from_the_cache(scene_video, tmp_path, counting):
    video, _ = scene_video("hard_cut")
    options = DetectorOptions(detector="yolo", weights=SPRITES)
    first = analyze_video(video, options=options, cache_dir=tmp_path, start_s=0.5, end_s=2.5)
    assert counting["loads"] == 1 and counting["frames"] > 0
    before = dict(counting)
    fractions = []
    again = analyze_video(video, options=options, cache_dir=tmp_path, start_s=0.5, end_s=2.5, progress=fractions.append)
    assert counting == before  # no model loaded, no frame detected
    assert fractions == [1.0]
    assert again.settings_key == first.settings_key and [t.to_dict() for t in again.tracks] == [t.to_dict() for t in first.tracks]
    # another range, another option, or a copy of the media under another name: keyed as expected (a miss runs
    # the detector; the model loaded once stays loaded in this process for the same weights and settings)
    analyze_video(video, options=options, cache_dir=tmp_path, start_s=0.5, end_s=2.0)
    assert counting["frames"] > before["frames"] and counting["loads"] == 1
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(video.read_bytes())
    frames = counting["frames"]
    analyze_video(copy, options=options, cache_dir=tmp_path, start_s=0.5, end_s=2.5)
    assert counting["frames"] == frames  # same content: a hit
    analyze_video(video, options=replace(options, conf=0.3), cache_dir=tmp_path, start_s=0.5, end_s=2.5)
    assert counting["frames"] > frames and counting["loads"] == 2  # other settings: another model


def test_an_instance_and_options_share_the_key(scene_video, tmp_path, counting):
    video, _ = scene_video("hard_cut")
    analyze_video(video, detector=YoloDetector(SPRITES, imgsz=320), cache_dir=tmp_path)
    frames = counting["frames"]
    analyze_video(video, options=DetectorOptions(detector="yolo", weights=SPRITES), cache_dir=tmp_path)  # auto imgsz 320
    assert counting["frames"] == frames


def _fill(cache: AnalysisCache, analysis, n: int, *, start_mtime: float = 1_000_000.0) -> list:
    keys = []
    for i in range(n):
        key = {"entry": i}
        path = cache.put(key, analysis)
        os.utime(path, (start_mtime + i, start_mtime + i))  # entry i was last used at second i
        keys.append(key)
    return keys


def test_the_cache_is_bounded_least_recently_used_first(tmp_path, analysed):
    analysis, _ = analysed("crossing")
    entry_bytes = len(json.dumps(analysis.to_dict()))
    cache = AnalysisCache(tmp_path, max_bytes=100 * entry_bytes, max_age_s=1e12)
    keys = _fill(cache, analysis, 5)
    assert cache.get(keys[0]) is not None  # a hit: entry 0 is now the most recently used
    small = AnalysisCache(tmp_path, max_bytes=int(3.5 * cache.entry_path(keys[1]).stat().st_size), max_age_s=1e12)
    newest = small.put({"entry": "new"}, analysis)
    assert newest.is_file() and small.size_bytes() <= small.max_bytes
    kept = {i for i, k in enumerate(keys) if small.get(k) is not None}
    assert kept == {0, 4}, kept  # entries 1, 2, 3 were the least recently used


def test_old_entries_and_stale_temp_files_are_pruned(tmp_path, analysed):
    analysis, _ = analysed("crossing")
    cache = AnalysisCache(tmp_path, max_bytes=1 << 30, max_age_s=3600.0)
    old = cache.put({"entry": "old"}, analysis)
    day_ago = time.time() - 86400
    os.utime(old, (day_ago, day_ago))
    stale = tmp_path / ".x.tracks.json.abc.part.json"
    stale.write_text("{half")
    os.utime(stale, (day_ago, day_ago))
    fresh_temp = tmp_path / ".y.tracks.json.def.part.json"  # a writer still at work
    fresh_temp.write_text("{half")
    cache.put({"entry": "new"}, analysis)
    assert not old.exists() and not stale.exists() and fresh_temp.exists()
    assert cache.get({"entry": "new"}) is not None and cache.get({"entry": "old"}) is None


def test_a_damaged_or_foreign_entry_is_a_miss(tmp_path, analysed):
    analysis, _ = analysed("crossing")
    cache = AnalysisCache(tmp_path)
    path = cache.put({"entry": 1}, analysis)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # torn by hand (the cache itself never leaves one)
    assert cache.get({"entry": 1}) is None
    other = cache.put({"entry": 2}, analysis)
    os.replace(other, cache.entry_path({"entry": 3}))  # an entry whose stored key is not the one asked for
    assert cache.get({"entry": 3}) is None


def test_size_bound_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_BYTES_ENV, "2.5")
    assert AnalysisCache(tmp_path).max_bytes == int(2.5 * 1024 * 1024)
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(InvalidParameter, match=f"{MAX_BYTES_ENV}='lots' must be a positive number of megabytes"):
        AnalysisCache(tmp_path)


def _writer(folder: str, tracks: str, worker: int, rounds: int) -> int:
    """In a separate process: write the same key and an own key, reading the shared key after each write."""
    cache = AnalysisCache(folder, max_bytes=1 << 30)
    analysis = read_tracks(tracks)
    whole = 0
    for i in range(rounds):
        cache.put({"shared": True}, analysis)
        cache.put({"worker": worker, "round": i}, analysis)
        got = cache.get({"shared": True})
        whole += got is not None and len(got.tracks) == len(analysis.tracks)
    return whole


def test_concurrent_writers_leave_whole_entries(tmp_path, analysed):
    analysis, _ = analysed("crossing")
    tracks = tmp_path / "tracks.json"
    from stereofoley.vision import write_tracks

    write_tracks(analysis, tracks)
    folder = tmp_path / "cache"
    rounds = 15
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        whole = pool.starmap(_writer, [(str(folder), str(tracks), w, rounds) for w in range(4)])
    assert whole == [rounds] * 4  # every read of the contended key found a whole entry
    cache = AnalysisCache(folder)
    entries = [p for p in cache.entries() if p.name.endswith(".tracks.json")]
    assert len(entries) == 1 + 4 * rounds
    assert all(read_tracks(p).tracks for p in entries)  # none torn
    assert not [p for p in folder.iterdir() if ".part" in p.name]  # no temp file left behind


def test_a_process_loads_a_model_once_and_hashes_a_file_once(tmp_path, counting, monkeypatch):
    """A render worker sees many clips: the same weights and settings give the loaded model again (per thread),
    and the weights' and a media file's content hashes are computed once per (path, size, mtime)."""
    import hashlib
    import threading

    from stereofoley import files
    from stereofoley.vision.detect import plan_detector

    hashed = []
    real_digest = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda f, *a, **k: hashed.append(f.name) or real_digest(f, *a, **k))
    monkeypatch.setattr(files, "_DIGESTS", {})
    options = DetectorOptions(detector="yolo", weights=SPRITES, imgsz=160)
    first = plan_detector(options).build()
    assert plan_detector(options).build() is first and counting["loads"] == 1
    assert plan_detector(replace(options, conf=0.4)).build() is not first and counting["loads"] == 2
    other = []
    thread = threading.Thread(target=lambda: other.append(plan_detector(options).build()))
    thread.start()
    thread.join()
    assert other[0] is not first and counting["loads"] == 3  # a model is never shared between threads
    assert hashed == [str(tiny_yolo.COMMITTED)]  # the weights, hashed once for four plans and three loads

    media = tmp_path / "clip.bin"
    media.write_bytes(os.urandom(1000))
    cache = AnalysisCache(tmp_path / "cache")
    digest = cache.media_digest(media)
    for memo in (tmp_path / "cache").glob("*.media.json"):
        memo.unlink()
    assert cache.media_digest(media) == digest and hashed.count(str(media)) == 1
    media.write_bytes(os.urandom(1000))  # new content (new mtime): hashed again
    os.utime(media, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert cache.media_digest(media) != digest and hashed.count(str(media)) == 2
