"""The user's sound library: scan folders, read UCS names and embedded metadata, choose a file per object.

Names follow the Universal Category System, `CatID_FXName_CreatorID_SourceID.wav` (CatID = upper-case
category + capitalised subcategory, e.g. `VEHCar`, `DOGBark`, `FEETHmn`; an optional `-UserCategory` may follow
the CatID). Embedded metadata is read where present: the BWF `bext` description, iXML (any CATID, CATEGORY,
SUBCATEGORY, FXNAME, DESCRIPTION, KEYWORDS, NOTE, TRACKTITLE element) and, for FLAC/AIFF, the title and comment
tags. A detector class maps to UCS CatIDs and keywords through the class vocabulary
(`vocabulary.py`), which a user file (`--class-map`) overrides class by class. Scoring: +10 for a CatID of the class, +2 for each of the class's keywords among the file's words.
Ties (and the choice among equals) are broken by a hash of (seed, class, track id, path in the library), so the
choice is stable for a seed, independent of scan order, and differs between two objects of the same class.

The index of each library root is cached on disk (JSON, one file per root). A rescan reuses every entry whose
size and modification time are unchanged, so a 50,000-file library is parsed once and rescanned incrementally.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import soundfile as sf

from .. import SAMPLE_RATE_HZ
from ..audio import read_mono
from ..config import user_cache_dir
from ..errors import InvalidAudio, InvalidParameter, MediaNotFound, SourceUnavailable
from ..files import write_text_atomic
from ..vocabulary import Vocabulary, vocabulary_for

AUDIO_SUFFIXES = (".wav", ".wave", ".bwf", ".flac", ".aif", ".aiff", ".aifc")
INDEX_VERSION = 1
LOOP_CROSSFADE_S = 0.1  # equal-power crossfade at each loop seam
TRIM_FADE_S = 0.01  # fade-out where a longer file is cut
CATID_SCORE, KEYWORD_SCORE = 10, 2
_CATID = re.compile(r"^([A-Z]+)([A-Z][a-z0-9][A-Za-z0-9]*)$")
_IXML_FIELDS = ("CATID", "CATEGORY", "SUBCATEGORY", "FXNAME", "DESCRIPTION", "KEYWORDS", "NOTE", "TRACKTITLE")


# ---------------------------------------------------------------------------------------------- naming
@dataclass(frozen=True)
class UcsName:
    cat_id: str  # "VEHCar"
    cat_short: str  # "VEH"
    subcategory: str  # "Car"
    fx_name: str
    creator: str
    source: str
    user_category: str = ""


def parse_ucs_name(filename: str) -> UcsName | None:
    """The UCS blocks of a file name, or None when the first block is not a CatID."""
    blocks = Path(filename).stem.split("_")
    cat_block, _, user_category = blocks[0].partition("-")
    match = _CATID.match(cat_block)
    if match is None or len(blocks) < 2:
        return None
    rest = blocks[1:] + ["", "", ""]
    return UcsName(cat_block, match.group(1), match.group(2), rest[0], rest[1], rest[2], user_category)


def words(*texts: str) -> tuple[str, ...]:
    """Lower-case words of free text, splitting camelCase, punctuation and underscores; sorted, unique."""
    out: set[str] = set()
    for text in texts:
        spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text or "")
        out.update(w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w)
    return tuple(sorted(out))


# -------------------------------------------------------------------------------------------- metadata
def read_embedded_metadata(path: str | os.PathLike) -> dict[str, str]:
    """BWF description and iXML fields of a WAV, or title/comment tags of other formats (lower-case keys)."""
    path = Path(path)
    meta: dict[str, str] = {}
    if path.suffix.lower() in (".wav", ".wave", ".bwf"):
        for chunk_id, data in _riff_chunks(path, wanted=(b"bext", b"iXML")):
            if chunk_id == b"bext":
                text = data[:256].split(b"\0", 1)[0].decode("latin-1").strip()
                if text:
                    meta.setdefault("description", text)
            else:
                for key, value in _ixml_fields(data).items():
                    meta.setdefault(key, value)
    else:
        try:
            with sf.SoundFile(str(path)) as f:
                for key, tag in (("description", f.comment), ("fxname", f.title)):
                    if tag:
                        meta.setdefault(key, str(tag).strip())
        except (sf.LibsndfileError, RuntimeError):
            pass
    return meta


def _riff_chunks(path: Path, wanted: tuple[bytes, ...], max_chunk_bytes: int = 1 << 20) -> Iterable[tuple[bytes, bytes]]:
    """(id, data) of the wanted top-level chunks of a RIFF/WAVE file; the audio data is skipped, not read."""
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
            return
        while True:
            head = f.read(8)
            if len(head) < 8:
                return
            chunk_id, size = head[:4], struct.unpack("<I", head[4:])[0]
            if chunk_id in wanted and size <= max_chunk_bytes:
                yield chunk_id, f.read(size)
                f.seek(size & 1, os.SEEK_CUR)
            else:
                f.seek(size + (size & 1), os.SEEK_CUR)


def _ixml_fields(data: bytes) -> dict[str, str]:
    try:
        root = ET.fromstring(data.split(b"\0", 1)[0].strip())
    except ET.ParseError:
        return {}
    found: dict[str, str] = {}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].upper()
        if tag in _IXML_FIELDS and element.text and element.text.strip() and tag.lower() not in found:
            found[tag.lower()] = element.text.strip()
    return found


# ----------------------------------------------------------------------------------------------- index
@dataclass(frozen=True)
class LibraryEntry:
    path: str  # absolute
    rel: str  # relative to its library root, '/'-separated: the part that keys the seeded choice
    size_bytes: int
    mtime_ns: int
    rate_hz: int
    channels: int
    frames: int
    cat_id: str = ""
    fx_name: str = ""
    description: str = ""
    words: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate_hz


@dataclass(frozen=True)
class ScanStats:
    parsed: int  # files opened and parsed in this scan
    reused: int  # entries taken from the cache unchanged
    removed: int  # cached entries whose file is gone


@dataclass(frozen=True)
class Library:
    roots: tuple[str, ...]
    entries: tuple[LibraryEntry, ...]
    skipped: tuple[tuple[str, str], ...]  # (path, reason) of files that could not be used
    stats: ScanStats = field(default=ScanStats(0, 0, 0))


def scan_library(roots: Iterable[str | os.PathLike], *, cache_dir: str | os.PathLike | None = None) -> Library:
    """Index every audio file under the roots (recursively), reusing the on-disk cache where files are unchanged."""
    roots = tuple(str(Path(r).expanduser().resolve()) for r in roots)
    if not roots:
        raise InvalidParameter("no library folder given; set libraries")
    cache = Path(cache_dir) if cache_dir is not None else user_cache_dir("library-index")
    entries: list[LibraryEntry] = []
    skipped: list[tuple[str, str]] = []
    parsed = reused = removed = 0
    for root in roots:
        if not Path(root).is_dir():
            raise MediaNotFound(f"library folder not found: {root}")
        cache_file = cache / f"{hashlib.sha1(root.encode()).hexdigest()[:16]}.json"
        old = _read_cache(cache_file, root)
        new: dict[str, dict[str, Any]] = {}
        for path in _audio_files(Path(root)):
            rel = path.relative_to(root).as_posix()
            stat = path.stat()
            record = old.get(rel)
            if record is None or record["size_bytes"] != stat.st_size or record["mtime_ns"] != stat.st_mtime_ns:
                record = _index_file(path, rel, stat)
                parsed += 1
            else:
                reused += 1
            new[rel] = record
        removed += len(set(old) - set(new))
        if new != old:
            write_text_atomic(cache_file, json.dumps({"version": INDEX_VERSION, "root": root, "files": new}), overwrite=True)
        for rel in sorted(new):
            record = new[rel]
            if record.get("error"):
                skipped.append((str(Path(root) / rel), record["error"]))
            else:
                entries.append(LibraryEntry(**{**record["entry"], "words": tuple(record["entry"]["words"])}))
    return Library(roots, tuple(entries), tuple(skipped), ScanStats(parsed, reused, removed))


def _audio_files(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if f.lower().endswith(AUDIO_SUFFIXES) and not f.startswith("."))
    return found


def _read_cache(cache_file: Path, root: str) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: rescan everything
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION or data.get("root") != root:
        return {}
    return data.get("files", {})


def _index_file(path: Path, rel: str, stat: os.stat_result) -> dict[str, Any]:
    record: dict[str, Any] = {"size_bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        return {**record, "error": f"not a readable audio file ({exc})"}
    if info.frames <= 0:
        return {**record, "error": "holds no samples"}
    ucs = parse_ucs_name(path.name)
    meta = read_embedded_metadata(path)
    cat_id = ucs.cat_id if ucs else meta.get("catid", "")
    fx_name = ucs.fx_name if ucs else meta.get("fxname", meta.get("tracktitle", ""))
    description = meta.get("description", meta.get("note", ""))
    entry = LibraryEntry(
        path=str(path),
        rel=rel,
        size_bytes=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        rate_hz=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        cat_id=cat_id,
        fx_name=fx_name,
        description=description,
        words=words(
            cat_id, ucs.subcategory if ucs else "", fx_name, description, meta.get("keywords", ""), meta.get("category", ""), meta.get("subcategory", ""),
            "" if ucs else path.stem,
        ),
    )
    return {**record, "entry": {**asdict(entry), "words": list(entry.words)}}


# -------------------------------------------------------------------------------------------- class map
@dataclass(frozen=True)
class ClassRule:
    cat_ids: tuple[str, ...]
    keywords: tuple[str, ...]


def load_class_map(class_map: "str | os.PathLike | Vocabulary | None" = None) -> dict[str, ClassRule]:
    """Class (synonyms included) → UCS CatIDs and keywords, from the class vocabulary (vocabulary.py) with the
    user's file (TOML or JSON) applied."""
    vocabulary = vocabulary_for(class_map)
    return {name: ClassRule(cat.cat_ids, cat.keywords) for name, cat in vocabulary.classes.items() if cat.cat_ids or cat.sounding}


# ------------------------------------------------------------------------------------------------ choice
def score(entry: LibraryEntry, rule: ClassRule) -> int:
    catid = CATID_SCORE if entry.cat_id.lower() in {c.lower() for c in rule.cat_ids} else 0
    return catid + KEYWORD_SCORE * len(set(rule.keywords) & set(entry.words))


def _tiebreak(seed: int, key: str, entry: LibraryEntry) -> str:
    return hashlib.sha256(f"{seed}\0{key}\0{entry.rel}".encode()).hexdigest()


def ranked(library: Library, class_name: str, class_map: Mapping[str, ClassRule], *, seed: int = 0, key: str = "") -> list[tuple[int, LibraryEntry]]:
    """Entries with their score for a class, best first; equal scores in seeded, order-independent order."""
    rule = class_map.get(class_name.strip().lower(), ClassRule((), (class_name.strip().lower(),)))
    scored = [(score(e, rule), e) for e in library.entries]
    return sorted(scored, key=lambda se: (-se[0], _tiebreak(seed, key or class_name, se[1])))


# --------------------------------------------------------------------------------------------- fitting
def fit_length(x: np.ndarray, n_samples: int, *, crossfade_s: float = LOOP_CROSSFADE_S) -> np.ndarray:
    """A mono sound made exactly n_samples long: trimmed (short fade-out at the cut) or looped with a crossfade
    at every seam, so neither adds a step larger than the sound's own.

    The loop point is searched over the last LOOP_SEARCH_S before the end for the best match of tail and head
    (normalised correlation r). A well-matched seam (r > 0.5: tonal material, now in phase) gets an
    equal-gain crossfade, which keeps the level of correlated signals; otherwise equal-power, which keeps the
    level of uncorrelated ones (noise, textures).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise InvalidAudio(f"a sound to fit has shape (n,) with n > 0, got {x.shape}")
    if x.size >= n_samples:
        out = x[:n_samples].copy()
        fade = min(int(TRIM_FADE_S * SAMPLE_RATE_HZ), n_samples)
        if x.size > n_samples and fade:
            out[n_samples - fade :] *= np.cos(0.5 * np.pi * (np.arange(fade) + 0.5) / fade)
        return out.astype(np.float32)
    c = min(int(round(crossfade_s * SAMPLE_RATE_HZ)), x.size // 3)
    period, r = _loop_period(x, c)
    ramp = (np.arange(c) + 0.5) / c if c else np.zeros(0)
    if r > 0.5:
        fade_in = np.sin(0.5 * np.pi * ramp) ** 2
    else:
        fade_in = np.sin(0.5 * np.pi * ramp)
    fade_out = fade_in[::-1]
    out = np.zeros(n_samples)
    for k, start in enumerate(range(0, n_samples, period)):
        piece = x[: period + c].copy()
        if k > 0 and c:
            piece[:c] *= fade_in
        if start + piece.size < n_samples and c:
            piece[-c:] *= fade_out
        end = min(n_samples, start + piece.size)
        out[start:end] += piece[: end - start]
    return out.astype(np.float32)


LOOP_SEARCH_S = 0.025  # longer than one period of anything above 40 Hz


def _loop_period(x: np.ndarray, c: int) -> tuple[int, float]:
    """Loop period P (copy k+1 starts P after copy k; x[P:P+c] crossfades into x[:c]) and the seam's correlation."""
    latest = x.size - c
    if c == 0:
        return x.size, 0.0
    earliest = max(c, latest - int(LOOP_SEARCH_S * SAMPLE_RATE_HZ))
    head = x[:c]
    tails = np.lib.stride_tricks.sliding_window_view(x[earliest : latest + c], c)
    dots = tails @ head
    norms = np.sqrt(np.einsum("ij,ij->i", tails, tails) * float(head @ head)) + 1e-20
    r = dots / norms
    best = int(np.argmax(r))
    return earliest + best, float(r[best])


# -------------------------------------------------------------------------------------------- provider
@dataclass(frozen=True, eq=False)
class LibrarySource:
    """Chooses and fits a library file for an object; see the module docstring for the scoring."""

    library: Library
    class_map: Mapping[str, ClassRule]
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.library.entries:
            reasons = "; ".join(f"{p}: {r}" for p, r in self.library.skipped[:3])
            raise SourceUnavailable(
                f"library {', '.join(self.library.roots)} holds no usable audio files"
                + (f" ({len(self.library.skipped)} unreadable, e.g. {reasons})" if self.library.skipped else "")
            )

    def candidates(self, class_name: str, key: str, *, allow_unmatched: bool) -> list[LibraryEntry]:
        scored = ranked(self.library, class_name, self.class_map, seed=self.seed, key=key)
        matched = [e for s, e in scored if s > 0]
        if matched:
            return matched
        if allow_unmatched:
            return [e for _, e in scored]
        raise SourceUnavailable(f"no file in library {', '.join(self.library.roots)} matches class {class_name!r}")

    def sound(self, class_name: str, n_samples: int, *, key: str, allow_unmatched: bool) -> tuple[np.ndarray, LibraryEntry]:
        """The fitted mono 48 kHz sound of the best readable candidate (unreadable ones are passed over)."""
        problems = []
        for entry in self.candidates(class_name, key, allow_unmatched=allow_unmatched)[:8]:
            try:
                return fit_length(read_mono(entry.path), n_samples), entry
            except (InvalidAudio, MediaNotFound) as exc:
                problems.append(str(exc))
        raise SourceUnavailable(f"no readable library file for class {class_name!r}: {'; '.join(problems)}")


def describe(entry: LibraryEntry) -> str:
    return f"{entry.rel} ({entry.cat_id or 'no CatID'}, {entry.duration_s:.2f} s, {entry.rate_hz} Hz, {entry.channels} ch)"

