"""Fuzzing the JSON parsers an untrusted sender reaches (issue 17): job files (jobs.parse_job with roots),
timelines (timeline.read_timeline, then timeline_rate and picture_clips on what it read) and preview data
(transport.preview.clips_from_json). hypothesis draws JSON shaped like each format, with hostile values in every
field (NaN, inf, 0, negative, 1e308, huge lists, wrong types, paths outside the roots); only the engine's own
errors (StereoFoleyError, one line, naming the field) may come out. The counts are in docs/osc.md."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from stereofoley.errors import StereoFoleyError
from stereofoley.jobs import parse_job
from stereofoley.timeline.plan import picture_clips, read_timeline, timeline_rate
from stereofoley.transport.preview import clips_from_json

N_JOBS, N_TIMELINES, N_PREVIEWS = 3000, 600, 3000
COUNTS: dict[str, int] = {}

numbers = st.one_of(st.integers(-2**63, 2**63), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, -1, 1e-300, 1e308, 2**33, 0.5]))
paths = st.sampled_from(["/etc/passwd", "relative.wav", "", "/tmp/../etc/shadow", "file:///etc/passwd",
                         "\x00", "/" + "x" * 300, "ROOT/in.wav", "ROOT/../out.wav", "ROOT"])
scalars = st.one_of(st.none(), st.booleans(), numbers, paths, st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def fuzz(strategy, n: int, parse) -> dict[str, int]:
    """parse() each of n examples drawn from strategy (seed 17): {"accepted", "refused"}. Only the engine's own
    error, one non-empty line, may come out of parse."""
    outcomes = {"accepted": 0, "refused": 0}

    @seed(17)
    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(strategy)
    def one(doc):
        try:
            parse(doc)
        except StereoFoleyError as exc:
            assert "\n" not in str(exc) and str(exc)
            outcomes["refused"] += 1
            return
        outcomes["accepted"] += 1

    one()
    assert sum(outcomes.values()) >= n * 0.9 and outcomes["accepted"] > 0
    return outcomes


def _rooted(value, root: str):
    if isinstance(value, str):
        return value.replace("ROOT", root)
    if isinstance(value, list):
        return [_rooted(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _rooted(v, root) for k, v in value.items()}
    return value


job_items = st.fixed_dictionaries({}, optional={
    "id": scalars, "media": paths, "source": paths, "trajectory": st.one_of(paths, st.lists(json_values, max_size=3)),
    "start_s": numbers, "end_s": numbers, "name": scalars})
jobs = st.fixed_dictionaries({"version": st.sampled_from([1, 1, 1, 2, "1", None])}, optional={
    "kind": st.sampled_from(["clips", "timeline", "spatialize", "other", 3]),
    "out_dir": paths, "timeline": paths,
    "clips": st.one_of(st.lists(job_items, max_size=4), json_values),
    "items": st.one_of(st.lists(job_items, max_size=4), json_values),
    "select": st.one_of(st.dictionaries(st.sampled_from(["range_s", "tracks", "clips", "names", "bogus"]), json_values,
                                        max_size=3), json_values),
    "options": st.one_of(st.dictionaries(st.sampled_from(
        ["preset", "settings", "overwrite", "stems", "sources", "detector", "loudness_lufs", "media_roots",
         "libraries", "weights", "cache_dir", "seed", "remaps", "bogus"]), json_values, max_size=4), json_values),
})

VALID = {"version": 1, "kind": "spatialize", "out_dir": "ROOT/out", "options": {"preset": "natural"},
         "items": [{"id": "a", "source": "ROOT/in.wav", "trajectory": "ROOT/t.json"}]}
# a valid job with one field (top level, an item's or an option) replaced by a hostile value
near_valid = st.one_of(
    st.builds(lambda k, v: {**VALID, k: v}, st.sampled_from(sorted(VALID)), json_values),
    st.builds(lambda k, v: {**VALID, "items": [{**VALID["items"][0], k: v}]},
              st.sampled_from(["id", "source", "trajectory", "name"]), st.one_of(paths, json_values)),
    st.builds(lambda k, v: {**VALID, "options": {k: v}},
              st.sampled_from(["preset", "overwrite", "stems", "seed", "loudness_lufs", "media_roots", "cache_dir"]),
              st.one_of(paths, json_values, st.lists(paths, max_size=2))))


def test_job_parser_raises_only_engine_errors(tmp_path: Path):
    root = str(tmp_path)

    def parse(job):
        parsed = parse_job(_rooted(job, root), roots=(tmp_path,))
        named = [parsed.out_dir, parsed.timeline] + [getattr(i, a, None) for i in parsed.items
                                                     for a in ("media", "source", "trajectory")]
        named += [Path(p) for p in parsed.options.media_roots + parsed.options.libraries]
        for path in named:
            if isinstance(path, tuple):
                continue  # trajectory points, not a file
            assert path is None or str(path).startswith(root), path  # nothing accepted outside the root

    outcomes = fuzz(st.one_of(jobs, near_valid), N_JOBS, parse)
    COUNTS.update(jobs=sum(outcomes.values()), jobs_accepted=outcomes["accepted"])

rates = st.one_of(st.sampled_from([24, 25, 30000 / 1001, 0, -24, 1e-300, 1e300]),
                  st.floats(allow_nan=True, allow_infinity=True))
times = st.builds(lambda v, r: {"OTIO_SCHEMA": "RationalTime.1", "value": v, "rate": r}, numbers, rates)
ranges = st.builds(lambda s, d: {"OTIO_SCHEMA": "TimeRange.1", "start_time": s, "duration": d}, times, times)
refs = st.one_of(st.none(), st.builds(lambda u: {"OTIO_SCHEMA": "ExternalReference.1", "target_url": u,
                                                 "available_range": None, "metadata": {}}, paths))
clips = st.builds(lambda n, r, ref, fx: {"OTIO_SCHEMA": "Clip.1", "name": n, "source_range": r, "media_reference": ref,
                                         "effects": fx, "markers": [], "metadata": {}},
                  st.text(max_size=6), st.one_of(st.none(), ranges), refs,
                  st.lists(st.sampled_from([{"OTIO_SCHEMA": "FreezeFrame.1", "time_scalar": 0.0, "effect_name": "f"},
                                            {"OTIO_SCHEMA": "LinearTimeWarp.1", "time_scalar": -2.0, "effect_name": "w"},
                                            {"OTIO_SCHEMA": "LinearTimeWarp.1", "time_scalar": 1e308, "effect_name": "w"}]),
                           max_size=1))
gaps = st.builds(lambda r: {"OTIO_SCHEMA": "Gap.1", "source_range": r, "effects": [], "markers": [], "metadata": {}},
                 ranges)
timelines = st.builds(lambda items, g: {"OTIO_SCHEMA": "Timeline.1", "name": "fuzz", "global_start_time": g,
                                        "tracks": {"OTIO_SCHEMA": "Stack.1", "name": "", "children": [
                                            {"OTIO_SCHEMA": "Track.1", "name": "V1", "kind": "Video",
                                             "children": items}]}},
                      st.lists(st.one_of(clips, gaps), max_size=4), st.one_of(st.none(), times))


def test_timeline_parser_raises_only_engine_errors(tmp_path: Path):
    path = tmp_path / "fuzz.otio"

    def parse(doc):
        path.write_text(json.dumps(doc))  # NaN and inf as JSON's NaN/Infinity, as Python's json writes them
        timeline = read_timeline(path)
        timeline_rate(timeline)
        picture_clips(timeline)

    outcomes = fuzz(timelines, N_TIMELINES, parse)
    COUNTS.update(timelines=sum(outcomes.values()), timelines_read=outcomes["accepted"])

curves = st.lists(st.lists(numbers, min_size=0, max_size=3), max_size=4)
tracks = st.fixed_dictionaries({}, optional={"track": numbers, "name": scalars, "curves": st.one_of(
    st.dictionaries(st.sampled_from(["pan", "gain_db", "distance_m", "bogus"]), curves, max_size=3), json_values)})
previews = st.one_of(json_values, st.fixed_dictionaries({"clips": st.lists(st.fixed_dictionaries({}, optional={
    "id": scalars, "record_start_s": numbers, "duration_s": numbers,
    "tracks": st.one_of(st.lists(tracks, max_size=4), json_values)}), max_size=3)}))


def test_preview_parser_raises_only_engine_errors():
    outcomes = fuzz(previews, N_PREVIEWS, clips_from_json)
    COUNTS.update(previews=sum(outcomes.values()), previews_loaded=outcomes["accepted"])
    print(json.dumps(COUNTS))
