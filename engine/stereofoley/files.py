"""Safe file output: write to a temporary file beside the target, then rename.

A crash or an error mid-write leaves no half-written file, and a user's existing file is never replaced unless
the caller says so explicitly.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import InvalidParameter, OutputExists, PathNotAllowed, StereoFoleyError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to `path`.

    Raises OutputExists if `path` exists and `overwrite` is false. On any exception the temporary file is
    removed and `path` is left untouched.
    """
    target = check_output_path(path)
    if target.exists() and not overwrite:
        raise OutputExists(f"{target} already exists; set overwrite=True to replace it")
    check_write(target, "output")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name[:100]}.", suffix=".part" + target.suffix[:20],
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        check_write(tmp, "output")  # the folder may have been swapped for a symlink since the first check
        yield tmp
        check_write(target, "output")
        if tmp.exists():  # mkstemp makes it 0600; the result gets the mode any new file would (0644 under umask 022)
            os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


MAX_NAME_BYTES = 200  # a file name's limit here: 255 bytes on most file systems, less the temp file's affixes


def check_output_path(path: str | os.PathLike) -> Path:
    """An output file's path, refused before any work when it names a folder or its name is too long to create."""
    target = Path(path)
    size = len(target.name.encode("utf-8", "surrogateescape"))
    if size > MAX_NAME_BYTES:
        raise InvalidParameter(f"output name {target.name[:40]}... is {size} bytes long; the cap is "
                               f"MAX_NAME_BYTES={MAX_NAME_BYTES} (file systems allow 255)")
    if target.is_dir():
        raise OutputExists(f"{target} is a folder; name a file to write")
    return target


_PART = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.part(\.[A-Za-z0-9]{1,20})?$")  # atomic_output's temp names
STALE_PART_S = 60.0


def clean_stale_parts(folder: str | os.PathLike, *, older_than_s: float = STALE_PART_S) -> list[Path]:
    """Remove the hidden temp files (`.NAME.XXXXXXXX.part.wav`) an interrupted render (SIGKILL, power loss) left
    in `folder`, when untouched for `older_than_s` (a running writer keeps its own fresh). Returns those removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for entry in os.scandir(folder):
        if _PART.match(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime >= older_than_s:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def unique_names(ids: Iterable[str], limit: int = 120) -> dict[str, str]:
    """A file-name part per id (safe_name), made unique where two ids map to the same one (`a/b` and `a_b`):
    later ones get `-2`, `-3`, ... in their order."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for item_id in ids:
        base = safe_name(item_id, limit)
        name, k = base, 1
        while name.lower() in taken:  # case-insensitive file systems (macOS, Windows) collide too
            k += 1
            name = f"{base}-{k}"
        taken.add(name.lower())
        names[item_id] = name
    return names


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask can only set it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def read_json(path: str | os.PathLike, *, what: str, error: type[StereoFoleyError],
              missing: type[StereoFoleyError] | None = None) -> Any:
    """A JSON file's content. A missing file raises `missing` (default `error`) "{what} not found: PATH"; one that
    is not UTF-8 JSON raises `error` "{what} PATH is not valid JSON: ..."."""
    path = Path(path)
    if not path.is_file():
        raise (missing or error)(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what} {path} is not valid JSON: {exc}") from None


def safe_name(text: str, limit: int = 120, *, default: str = "clip") -> str:
    """A file-name part from a name or id another program chose: no separators, no leading dot, at most
    `limit` characters (file systems cap a name at 255 bytes)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._")[:limit] or default


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


# ------------------------------------------------------------------------------------------------ path roots
def resolve_under_roots(path: str | os.PathLike, roots: Iterable[str | os.PathLike]) -> Path:
    """The real path of `path`, provided it is absolute, has no '..' and lies (after symlinks) under a root."""
    raw = str(path)
    if "\x00" in raw or not raw:
        raise PathNotAllowed("empty path or a path with a NUL byte")
    p = Path(raw)
    if not p.is_absolute():
        raise PathNotAllowed(f"path {raw!r} must be absolute")
    if ".." in p.parts:
        raise PathNotAllowed(f"path {raw!r} contains '..'")
    real = Path(os.path.realpath(p))
    for root in roots:
        root_real = Path(os.path.realpath(root))
        if real == root_real or root_real in real.parents:
            return real
    raise PathNotAllowed(f"path {raw!r} (real path {str(real)!r}) is outside the allowed roots")


# ------------------------------------------------------------------------------------------------ confinement
# The roots that every file opened in this context must lie under: set by whoever runs untrusted requests (the OSC
# server, for a job's whole run and for each preview/audio request). None: not confined (the CLI, library use).
# A context variable, so a worker thread confines only its own job; code that hands work to other threads must
# run it in a copy of the context (`contextvars.copy_context().run`), as `confined_call` does.
_CONFINED: contextvars.ContextVar[tuple[Path, ...] | None] = contextvars.ContextVar("stereofoley_roots", default=None)


@contextlib.contextmanager
def confinement(roots: Iterable[str | os.PathLike] | None) -> Iterator[tuple[Path, ...] | None]:
    """Within the block, `check_read` / `check_write` (and every reader and writer that calls them) refuse paths
    whose real path is outside `roots`. None leaves the current confinement as it is."""
    if roots is None:
        yield _CONFINED.get()
        return
    real = tuple(Path(os.path.realpath(r)) for r in roots)
    token = _CONFINED.set(real)
    try:
        yield real
    finally:
        _CONFINED.reset(token)


@contextlib.contextmanager
def unconfined() -> Iterator[None]:
    """Within the block, no confinement: for the engine's own files (a package's impulse response), never for a
    path a request named."""
    token = _CONFINED.set(None)
    try:
        yield
    finally:
        _CONFINED.reset(token)


def confined_roots() -> tuple[Path, ...] | None:
    return _CONFINED.get()


def confined_call(fn, *args, **kwargs):
    """A callable that runs `fn` in a copy of this context (for executors: keeps the confinement)."""
    ctx = contextvars.copy_context()
    return lambda: ctx.run(fn, *args, **kwargs)


def _under(real: Path, roots: Iterable[Path]) -> bool:
    return any(real == r or r in real.parents for r in roots)


def check_read(path: str | os.PathLike, what: str = "file") -> Path:
    """`path`, after checking that its real path (symlinks followed, '..' collapsed) lies under the confinement
    roots, if any are set. Call it right before opening: a file or folder swapped for a symlink since a job was
    submitted is caught here."""
    roots = _CONFINED.get()
    if roots is None:
        return Path(path)
    raw = str(path)
    if "\x00" in raw or not raw:
        raise PathNotAllowed(f"{what}: empty path or a path with a NUL byte")
    real = Path(os.path.realpath(raw))
    if not _under(real, roots):
        raise PathNotAllowed(f"{what} {raw!r} (real path {str(real)!r}) is outside the allowed roots")
    return Path(path)


def check_write(path: str | os.PathLike, what: str = "output") -> Path:
    """Like `check_read` for a file about to be created or replaced: its folder's real path must lie under the
    roots, and the name itself may not be a symlink (it would be replaced by rename, never followed, but a
    symlinked name is refused so that no reader is misled)."""
    roots = _CONFINED.get()
    if roots is None:
        return Path(path)
    p = Path(path)
    folder = Path(os.path.realpath(p.parent))
    if not _under(folder, roots):
        raise PathNotAllowed(f"{what} {str(p)!r} (its folder is really {str(folder)!r}) is outside the allowed roots")
    if p.is_symlink():
        raise PathNotAllowed(f"{what} {str(p)!r} is a symlink; refusing to write through it")
    return p


def mkdir_confined(path: str | os.PathLike, what: str = "output folder") -> Path:
    """mkdir -p, then check the real path of the folder made (a component swapped for a symlink is caught)."""
    p = Path(path)
    check_write(p, what)
    p.mkdir(parents=True, exist_ok=True)
    check_read(p, what)
    return p


# ------------------------------------------------------------------------------------------------ status files
STATUS_KEYS = ("version", "job_id", "kind", "state")
MAX_STATUS_BYTES = 64 * 1024 * 1024


def check_status_target(path: str | os.PathLike) -> Path:
    """A status file may be created, or replace an earlier status file (a JSON object with the status keys
    version, job_id, kind and state), and nothing else: never a job's media, its job file or any other file."""
    p = Path(path)
    if p.name in ("", ".", ".."):
        raise PathNotAllowed(f"status path {str(p)!r} must name a file")
    check_write(p, "status path")
    if not os.path.lexists(p):
        return p
    if p.is_symlink() or not p.is_file():
        raise OutputExists(f"status path {p} exists and is not a regular file; refusing to replace it")
    try:
        if p.stat().st_size > MAX_STATUS_BYTES:
            raise ValueError("too large")
        data = json.loads(p.read_text(encoding="utf-8"))
        ok = isinstance(data, dict) and all(k in data for k in STATUS_KEYS)
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise OutputExists(f"status path {p} exists and is not a StereoFoley status file; refusing to replace it")
    return p


def default_roots() -> tuple[Path, ...]:
    """Home and the system temporary folder: where host projects and their job files normally live."""
    return tuple(dict.fromkeys(Path(os.path.realpath(p)) for p in (Path.home(), tempfile.gettempdir())))


# ------------------------------------------------------------------------------------------------ content hashes
_DIGESTS: dict[tuple, str] = {}  # per process: (real path, size, mtime_ns, digest size) -> hex BLAKE2b
MAX_REMEMBERED_DIGESTS = 4096


def file_digest(path: str | os.PathLike, *, digest_size: int) -> str:
    """BLAKE2b of every byte of a file, hashed once per process for each (real path, size, mtime): a render
    worker sees the same media and weights in many clips."""
    stat = os.stat(path)
    stamp = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, digest_size)
    if stamp not in _DIGESTS:
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=digest_size)).hexdigest()
        if len(_DIGESTS) >= MAX_REMEMBERED_DIGESTS:
            _DIGESTS.clear()
        _DIGESTS[stamp] = digest
    return _DIGESTS[stamp]
