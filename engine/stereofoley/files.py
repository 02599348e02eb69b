"""Safe file output: write to a temporary file beside the target, then rename.

A crash or an error mid-write leaves no half-written file, and a user's existing file is never replaced unless
the caller says so explicitly.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import OutputExists, PathNotAllowed, StereoFoleyError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to `path`.

    Raises OutputExists if `path` exists and `overwrite` is false. On any exception the temporary file is
    removed and `path` is left untouched.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputExists(f"{target} already exists; set overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes it 0600; the result gets the mode any new file would (0644 under umask 022)
            os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


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


def default_roots() -> tuple[Path, ...]:
    """Home and the system temporary folder: where host projects and their job files normally live."""
    return tuple(dict.fromkeys(Path(os.path.realpath(p)) for p in (Path.home(), tempfile.gettempdir())))
