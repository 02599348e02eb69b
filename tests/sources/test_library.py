"""Library provider: UCS names, embedded metadata, class map overrides, seeded choice, index cache, fitting."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from stereofoley.errors import InvalidParameter, MediaNotFound, SourceUnavailable
from stereofoley.sources import make_source_for
from stereofoley.sources.library import (
    LibrarySource,
    fit_length,
    load_class_map,
    parse_ucs_name,
    ranked,
    read_embedded_metadata,
    scan_library,
)

from .conftest import MINI_LIBRARY, SR, dominant_hz, make_track, tone, write_wav_with_chunks


def chosen(library, class_name, *, seed=0, class_map=None, key=""):
    return LibrarySource(library, class_map or load_class_map(), seed).candidates(class_name, key or class_name, allow_unmatched=False)[0]


def test_parse_ucs_name():
    name = parse_ucs_name("VEHCar-Chase_Sedan Pass By Fast_JD_TestLib.wav")
    assert (name.cat_id, name.cat_short, name.subcategory, name.user_category) == ("VEHCar", "VEH", "Car", "Chase")
    assert (name.fx_name, name.creator, name.source) == ("Sedan Pass By Fast", "JD", "TestLib")
    assert parse_ucs_name("FEETHmn_Walk.wav").subcategory == "Hmn"
    assert parse_ucs_name("take_012.wav") is None  # 'take' is not a CatID
    assert parse_ucs_name("VEHICLE_thing.wav") is None  # no capitalised subcategory


@pytest.mark.parametrize("class_name, expected", [("car", "VEHCar_"), ("dog", "DOGBark_"), ("person", "FEETHmn_"), ("truck", "VEHTruck_"), ("bird", "BIRDSong_")])
def test_mini_library_yields_right_file(mini_library, cache_dir, class_name, expected):
    library = scan_library([mini_library], cache_dir=cache_dir)
    assert len(library.entries) == len(MINI_LIBRARY)
    entry = chosen(library, class_name)
    assert os.path.basename(entry.path).startswith(expected)


@pytest.mark.parametrize("class_name, freq_hz", [("car", 300.0), ("dog", 700.0), ("person", 1100.0)])
def test_source_for_plays_the_chosen_file(mini_library, cache_dir, class_name, freq_hz):
    source_for = make_source_for("library", libraries=[mini_library], cache_dir=cache_dir)
    track = make_track(class_name, duration_s=2.0, x=(0.3, 0.7), distance_m=(5.0, 5.0))
    sound = source_for(track, 2 * SR)
    assert sound.shape == (2 * SR,) and np.isfinite(sound).all()
    assert abs(dominant_hz(sound) - freq_hz) < 2.0
    assert source_for.choices[1] == "library"


def test_bwf_description_and_ixml(tmp_path, cache_dir):
    root = tmp_path / "lib"
    root.mkdir()
    write_wav_with_chunks(root / "take_012.wav", tone(400.0, 0.3), description="Horse gallop on gravel, close")
    ixml = "<?xml version='1.0'?><BWFXML><IXML_VERSION>1.5</IXML_VERSION><USER><CATID>DOGBark</CATID><FXNAME>Terrier</FXNAME></USER></BWFXML>"
    write_wav_with_chunks(root / "rec_5.wav", tone(900.0, 0.3), ixml=ixml)
    meta = read_embedded_metadata(root / "take_012.wav")
    assert meta["description"] == "Horse gallop on gravel, close"
    assert read_embedded_metadata(root / "rec_5.wav")["catid"] == "DOGBark"
    library = scan_library([root], cache_dir=cache_dir)
    assert os.path.basename(chosen(library, "horse").path) == "take_012.wav"
    dog = chosen(library, "dog")
    assert os.path.basename(dog.path) == "rec_5.wav" and dog.cat_id == "DOGBark" and dog.fx_name == "Terrier"
    with pytest.raises(SourceUnavailable, match="matches class 'car'"):
        chosen(library, "car")
    # The audio itself is intact after the inserted chunks.
    data, rate = sf.read(str(root / "take_012.wav"))
    assert rate == SR and abs(dominant_hz(data) - 400.0) < 4.0


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_user_class_map_overrides(mini_library, cache_dir, tmp_path, suffix):
    library = scan_library([mini_library], cache_dir=cache_dir)
    user = tmp_path / f"map{suffix}"
    if suffix == ".json":
        user.write_text(json.dumps({"car": {"cat_ids": ["VEHTruck"], "keywords": []}, "kite": {"cat_ids": ["BIRDSong"]}}))
    else:
        user.write_text('[car]\ncat_ids = ["VEHTruck"]\nkeywords = []\n[kite]\ncat_ids = ["BIRDSong"]\n')
    class_map = load_class_map(user)
    assert os.path.basename(chosen(library, "car", class_map=class_map).path).startswith("VEHTruck_")
    assert os.path.basename(chosen(library, "kite", class_map=class_map).path).startswith("BIRDSong_")
    assert os.path.basename(chosen(library, "dog", class_map=class_map).path).startswith("DOGBark_")  # untouched


def test_bad_class_map_files(tmp_path):
    with pytest.raises(MediaNotFound):
        load_class_map(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"car": {"cat_ids": "VEHCar"}}')
    with pytest.raises(InvalidParameter, match="car.cat_ids must be a list"):
        load_class_map(bad)
    bad.write_text("{not json")
    with pytest.raises(InvalidParameter, match="not valid JSON"):
        load_class_map(bad)


def test_seeded_choice_is_stable_and_varies_with_seed(tmp_path, cache_dir):
    root = tmp_path / "cars"
    root.mkdir()
    for i in range(4):
        sf.write(str(root / f"VEHCar_Sedan Take {i}_JD_Lib.wav"), tone(200.0 + 100 * i, 0.2), SR)
    library = scan_library([root], cache_dir=cache_dir)
    first = [chosen(library, "car", seed=s, key="car:1").rel for s in range(24)]
    again = [chosen(library, "car", seed=s, key="car:1").rel for s in range(24)]
    assert first == again
    assert len(set(first)) == 4  # every equal candidate is reachable through the seed
    # Independent of scan order: the same entries in reverse give the same choice.
    reversed_library = type(library)(library.roots, library.entries[::-1], library.skipped)
    assert [chosen(reversed_library, "car", seed=s, key="car:1").rel for s in range(24)] == first
    # Two cars in one clip usually get different files.
    others = [chosen(library, "car", seed=s, key="car:2").rel for s in range(24)]
    assert sum(a != b for a, b in zip(first, others)) >= 12


def test_index_cache_is_incremental(mini_library, cache_dir):
    first = scan_library([mini_library], cache_dir=cache_dir)
    n = len(MINI_LIBRARY)
    assert (first.stats.parsed, first.stats.reused, first.stats.removed) == (n, 0, 0)
    assert len(list(cache_dir.glob("*.json"))) == 1
    second = scan_library([mini_library], cache_dir=cache_dir)
    assert (second.stats.parsed, second.stats.reused) == (0, n) and second.entries == first.entries
    # One file changed, one removed, one added: exactly those are parsed again.
    changed = mini_library / "DOGBark_Small Dog Barks_JD_TestLib.wav"
    sf.write(str(changed), tone(650.0, 0.8), SR)
    (mini_library / "BIRDSong_Robin Morning_JD_TestLib.wav").unlink()
    sf.write(str(mini_library / "ANMLCat_Meow_JD_TestLib.wav"), tone(800.0, 0.2), SR)
    third = scan_library([mini_library], cache_dir=cache_dir)
    assert (third.stats.parsed, third.stats.reused, third.stats.removed) == (2, n - 2, 1)
    dog = next(e for e in third.entries if e.rel == changed.name)
    assert dog.frames == int(0.8 * SR)
    # A damaged cache is rebuilt, not trusted.
    next(cache_dir.glob("*.json")).write_text("{broken")
    assert scan_library([mini_library], cache_dir=cache_dir).stats.parsed == n


def test_loop_has_no_click_at_the_seam():
    # 0.5 s of 441.5 Hz: 220.75 cycles, so butting copies end to end would jump by the full amplitude.
    x = tone(441.5, 0.5, amplitude=0.5)
    own_step = np.max(np.abs(np.diff(x)))
    naive = np.tile(x, 6)
    assert np.max(np.abs(np.diff(naive))) > 10 * own_step  # the test can fail: an unfaded seam is a click
    looped = fit_length(x, 3 * SR)
    assert looped.shape == (3 * SR,)
    assert np.max(np.abs(np.diff(looped))) <= 1.5 * own_step
    # The crossfades keep the level: every 10 ms window stays within 3 dB of the source's RMS (no dips or holes).
    rms = np.sqrt(np.mean(x**2))
    windows = looped[: (looped.size // 480) * 480].reshape(-1, 480)
    window_db = 20 * np.log10(np.sqrt(np.mean(windows**2, axis=1)) / rms)
    assert window_db.min() > -3.0 and window_db.max() < 3.1


def test_loop_of_noise_keeps_its_level():
    x = (0.2 * np.random.default_rng(3).standard_normal(SR // 2)).astype(np.float32)
    looped = fit_length(x, 3 * SR)
    rms = np.sqrt(np.mean(x**2))
    windows = looped.reshape(-1, 4800)  # 100 ms windows, each holding a seam or not
    window_db = 20 * np.log10(np.sqrt(np.mean(windows**2, axis=1)) / rms)
    assert np.all(np.abs(window_db) < 1.5)
    assert np.max(np.abs(np.diff(looped))) <= 1.5 * np.max(np.abs(np.diff(x)))


def test_trim_is_exact_and_fades_at_the_cut():
    x = tone(300.0, 2.0, amplitude=0.5)
    out = fit_length(x, SR)
    assert out.shape == (SR,)
    np.testing.assert_array_equal(out[: SR - 480], x[: SR - 480])
    assert abs(out[-1]) < 0.5 * np.max(np.abs(np.diff(x)))  # faded to ~0 at the cut
    assert np.max(np.abs(np.diff(out))) <= np.max(np.abs(np.diff(x))) * 1.01
    np.testing.assert_array_equal(fit_length(x, x.size), x)


def test_other_rates_and_channel_counts(tmp_path, cache_dir):
    root = tmp_path / "lib"
    root.mkdir()
    t = np.arange(int(0.7 * 44100)) / 44100
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 1000 * t), 0.3 * np.sin(2 * np.pi * 1000 * t)], axis=1)
    sf.write(str(root / "VEHCar_Stereo 44k_JD_Lib.flac"), stereo, 44100)
    sf.write(str(root / "DOGBark_Mono 96k_JD_Lib.aiff"), tone(2000.0, 0.3, rate=96000), 96000)
    source_for = make_source_for("library", libraries=[root], cache_dir=cache_dir)
    car = source_for(make_track("car"), 2 * SR)
    dog = source_for(make_track("dog", track_id=2), SR)
    assert car.shape == (2 * SR,) and abs(dominant_hz(car) - 1000.0) < 2.0
    assert dog.shape == (SR,) and abs(dominant_hz(dog) - 2000.0) < 2.0
    entries = {e.rel: e for e in scan_library([root], cache_dir=cache_dir).entries}
    assert entries["VEHCar_Stereo 44k_JD_Lib.flac"].channels == 2 and entries["VEHCar_Stereo 44k_JD_Lib.flac"].rate_hz == 44100


def test_empty_and_unreadable_libraries(tmp_path, cache_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceUnavailable, match="holds no usable audio files"):
        make_source_for("library", libraries=[empty], cache_dir=cache_dir)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "VEHCar_Broken_JD_Lib.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    (junk / "DOGBark_Empty_JD_Lib.wav").write_bytes(b"")
    with pytest.raises(SourceUnavailable, match="2 unreadable"):
        make_source_for("library", libraries=[junk], cache_dir=cache_dir)
    with pytest.raises(MediaNotFound, match="library folder not found"):
        make_source_for("library", libraries=[tmp_path / "nowhere"], cache_dir=cache_dir)
    with pytest.raises(InvalidParameter, match="folder in libraries"):
        make_source_for("library", cache_dir=cache_dir)
    # With a fallback configured, the synth voices take over and the output is sound.
    source_for = make_source_for("library,synth", libraries=[junk], cache_dir=cache_dir)
    sound = source_for(make_track("car", x=(0.1, 0.9)), SR)
    assert np.isfinite(sound).all() and np.sqrt(np.mean(sound**2)) > 1e-3
    assert source_for.choices[1] == "synth"


def test_unreadable_file_is_skipped_and_nan_file_passed_over(tmp_path, cache_dir):
    root = tmp_path / "lib"
    root.mkdir()
    bad = np.zeros(4800, dtype=np.float32)
    bad[100] = np.nan
    sf.write(str(root / "VEHCar_Nan_AA_Lib.wav"), bad, SR, subtype="FLOAT")
    sf.write(str(root / "VEHCar_Good_ZZ_Lib.wav"), tone(330.0, 0.3), SR)
    (root / "VEHCar_Broken_JD_Lib.wav").write_bytes(b"not audio at all")
    library = scan_library([root], cache_dir=cache_dir)
    assert [os.path.basename(p) for p, _ in library.skipped] == ["VEHCar_Broken_JD_Lib.wav"]
    for seed in range(4):  # whichever file the seed ranks first, the NaN one never reaches the output
        sound = make_source_for("library", libraries=[root], cache_dir=cache_dir, seed=seed)(make_track("car"), SR)
        assert np.isfinite(sound).all() and abs(dominant_hz(sound) - 330.0) < 2.0


def test_single_file_library_is_honoured_for_any_class(tmp_path, cache_dir):
    root = tmp_path / "one"
    root.mkdir()
    sf.write(str(root / "my sound.wav"), tone(523.0, 0.4), SR)
    source_for = make_source_for("library", libraries=[root], cache_dir=cache_dir)
    for class_name in ("car", "dog", "frisbee"):
        assert abs(dominant_hz(source_for(make_track(class_name), SR)) - 523.0) < 2.0
    # ... but with a fallback after it, an unmatched class goes to the fallback instead.
    chained = make_source_for("library,synth", libraries=[root], cache_dir=cache_dir)
    chained(make_track("dog"), SR)
    assert chained.choices[1] == "synth"
    assert ranked(scan_library([root], cache_dir=cache_dir), "dog", load_class_map())[0][0] == 0
