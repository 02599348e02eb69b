"""Install the host shims (REAPER scripts, Resolve scripts, Ardour Lua scripts) into each host's per-user folders.

Installing is planned first as a list of `Action`s (pure: nothing touched), then applied; `--dry-run` prints
the plan only. What was installed is recorded in a manifest (`StereoFoley.install.json` in the host folder),
so uninstall removes exactly that: files still as we wrote them, folders we created if empty, and the user's
own files that install had moved aside (backups) are put back.

Folders (HOSTS.md), relative to the user's home, or to `prefix` in its place:
  REAPER   windows %APPDATA%/REAPER · macos Library/Application Support/REAPER · linux .config/REAPER
  Resolve  windows %APPDATA%/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts
           macos Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts
           linux .local/share/DaVinciResolve/Fusion/Scripts
  Ardour 7 windows %LOCALAPPDATA%/Ardour7/scripts · macos Library/Preferences/Ardour7/scripts
           linux .config/ardour7/scripts (Ardour's own per-user script folder, scanned at start)

The shipped files come from the wheel's package data (stereofoley/plugin/, built from the repository's plugin/ by
setup.py), or from the repository's plugin/ in a checkout, or from $STEREOFOLEY_PLUGIN_DIR.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from . import __version__
from .errors import InvalidParameter, MediaNotFound, StereoFoleyError
from .files import atomic_output

HOSTS = ("reaper", "resolve", "ardour")
OS_NAMES = ("windows", "macos", "linux")
MANIFEST_NAME = "StereoFoley.install.json"
BACKUP_TAG = ".stereofoley-backup-"

# (file in the repository's plugin/ folder, destination relative to the host folder)
REAPER_FILES = (
    ("reaper/StereoFoley_lib.lua", "Scripts/StereoFoley/StereoFoley_lib.lua"),
    ("reaper/StereoFoley_Send_selected_items.lua", "Scripts/StereoFoley/StereoFoley_Send_selected_items.lua"),
    ("reaper/StereoFoley_Live_preview_toggle.lua", "Scripts/StereoFoley/StereoFoley_Live_preview_toggle.lua"),
    ("reaper/StereoFoley_Import_result.lua", "Scripts/StereoFoley/StereoFoley_Import_result.lua"),
    ("reaper/StereoFoley.ReaperOSC", "OSC/StereoFoley.ReaperOSC"),  # shipped by the OSC bridge; optional
)
OPTIONAL_FILES = {"reaper/StereoFoley.ReaperOSC"}
RESOLVE_FILES = (
    ("resolve/StereoFoley_Send_selected_clips.py", "Utility/StereoFoley_Send_selected_clips.py"),
    ("resolve/StereoFoley_Send_selected_clips.lua", "Utility/StereoFoley_Send_selected_clips.lua"),  # free Resolve: Lua only
)
REAPER_CONFIG = "Scripts/StereoFoley/StereoFoley_config.lua"
RESOLVE_CONFIG = "Utility/stereofoley_config.json"


class InstallError(StereoFoleyError, OSError):
    """The shims cannot be installed or uninstalled as asked (nothing was changed)."""


@dataclass(frozen=True)
class Action:
    """One step: kind is mkdir, write, backup, skip, remove, keep, restore, rmdir, manifest or unmanifest."""

    kind: str
    path: Path
    detail: str = ""
    content: bytes | None = None
    other: Path | None = None  # backup / restore partner

    def describe(self) -> str:
        arrow = f" -> {self.other}" if self.other else ""
        return f"{self.kind:9s} {self.path}{arrow}{'  (' + self.detail + ')' if self.detail else ''}"


# ------------------------------------------------------------------------------------------ locations
def current_os() -> str:
    system = platform.system()
    return {"Windows": "windows", "Darwin": "macos"}.get(system, "linux")


def host_folder(host: str, os_name: str, *, prefix: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The per-user folder of `host` on `os_name`; with `prefix`, the same layout under prefix in place of home."""
    _check(host, os_name)
    env = os.environ if env is None else env
    home = Path(prefix) if prefix is not None else Path.home()
    if os_name == "windows":
        appdata = Path(env["APPDATA"]) if prefix is None and env.get("APPDATA") else home / "AppData" / "Roaming"
        if host == "ardour":
            local = Path(env["LOCALAPPDATA"]) if prefix is None and env.get("LOCALAPPDATA") else home / "AppData" / "Local"
            return local / "Ardour7" / "scripts"
        return appdata / "REAPER" if host == "reaper" else appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts"
    if os_name == "macos":
        if host == "ardour":
            return home / "Library" / "Preferences" / "Ardour7" / "scripts"
        support = home / "Library" / "Application Support"
        return support / "REAPER" if host == "reaper" else support / "Blackmagic Design" / "DaVinci Resolve" / "Fusion" / "Scripts"
    if host in ("reaper", "ardour"):
        config = Path(env["XDG_CONFIG_HOME"]) if prefix is None and env.get("XDG_CONFIG_HOME") else home / ".config"
        return config / "REAPER" if host == "reaper" else config / "ardour7" / "scripts"
    return home / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts"


def plugin_dir() -> Path:
    """The shipped host files: $STEREOFOLEY_PLUGIN_DIR, else the wheel's package data (stereofoley/plugin/), else the
    repository's plugin/ beside engine/ (a checkout or an editable install)."""
    custom = os.environ.get("STEREOFOLEY_PLUGIN_DIR")
    here = Path(__file__).resolve().parent
    candidates = [Path(custom)] if custom else [here / "plugin", here.parents[1] / "plugin"]
    for path in candidates:
        if (path / "reaper").is_dir() and (path / "resolve").is_dir():
            return path
    raise MediaNotFound(f"host scripts not found in {' or '.join(map(str, candidates))}; "
                        "set STEREOFOLEY_PLUGIN_DIR to the plugin/ folder of a StereoFoley checkout")


def ardour_files(source_dir: Path) -> list[tuple[str, str]]:
    """Every Lua script in plugin/ardour/, each copied by name into Ardour's scripts folder (Ardour scans that
    folder itself; it has no subfolders for scripts)."""
    return [(f"ardour/{p.name}", p.name) for p in sorted((source_dir / "ardour").glob("*.lua"))]


def engine_command() -> list[str]:
    """How the host scripts start the engine: this Python running the CLI module (works in any venv)."""
    return [sys.executable, "-m", "stereofoley.cli"]


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def files_for(host: str, engine: Sequence[str], source_dir: Path | None = None) -> list[tuple[str, bytes]]:
    """(destination relative to the host folder, content) of every file to install."""
    source_dir = source_dir or plugin_dir()
    table = {"reaper": REAPER_FILES, "resolve": RESOLVE_FILES}.get(host) or ardour_files(source_dir)
    if not table:
        raise MediaNotFound(f"no Ardour scripts (*.lua) in {source_dir / 'ardour'}")
    out = []
    for src, dest in table:
        path = source_dir / src
        if not path.is_file():
            if src in OPTIONAL_FILES:
                continue
            raise MediaNotFound(f"shipped host file {path} is missing")
        out.append((dest, path.read_bytes()))
    if host == "reaper":
        config = "-- Written by `stereofoley install reaper`: the engine command as an argument list.\n"
        config += "return { engine = { " + ", ".join(_lua_string(a) for a in engine) + " } }\n"
        out.append((REAPER_CONFIG, config.encode()))
    elif host == "resolve":
        out.append((RESOLVE_CONFIG, (json.dumps({"engine": list(engine)}, indent=2) + "\n").encode()))
    return out


# --------------------------------------------------------------------------------------------- planning
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str:
    return _sha(path.read_bytes())


def read_manifest(root: Path) -> dict | None:
    path = root / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InstallError(f"install manifest {path} is not valid JSON ({exc}); fix or remove it") from None
    if not isinstance(manifest, dict) or manifest.get("version") != 1:
        raise InstallError(f"install manifest {path} has an unknown format")
    return manifest


def plan_install(root: Path, files: Sequence[tuple[str, bytes]], *, host: str, os_name: str, stamp: str | None = None) -> list[Action]:
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    old = read_manifest(root) or {"files": [], "created_dirs": [], "backups": []}
    ours = {f["path"]: f["sha256"] for f in old["files"]}
    actions: list[Action] = []
    created = list(old["created_dirs"])
    backups = list(old["backups"])
    owned = []
    planned_dirs: set[Path] = set()
    for rel, content in files:
        dest = root / rel
        for parent in reversed(dest.parents):  # every missing folder, the host folder and above it included
            if not parent.exists() and parent not in planned_dirs:
                planned_dirs.add(parent)
                actions.append(Action("mkdir", parent))
                created.append(Path(os.path.relpath(parent, root)).as_posix())
        new_sha = _sha(content)
        if dest.exists():
            current = _file_sha(dest)
            if current == new_sha:
                if rel in ours:
                    owned.append({"path": rel, "sha256": new_sha})
                actions.append(Action("skip", dest, "already up to date" if rel in ours else "identical file already there; left as the user's"))
                continue
            if ours.get(rel) != current:  # the user's own file, or ours edited since: keep a copy
                backup = dest.with_name(f"{dest.name}{BACKUP_TAG}{stamp}")
                actions.append(Action("backup", dest, "not ours or modified since install", other=backup))
                backups.append({"path": rel, "backup": backup.relative_to(root).as_posix()})
        actions.append(Action("write", dest, "update" if dest.exists() else "new", content=content))
        owned.append({"path": rel, "sha256": new_sha})
    stale = set(ours) - {rel for rel, _ in files}
    for rel in sorted(stale):  # files an older version installed that this one no longer ships
        dest = root / rel
        if dest.exists() and _file_sha(dest) == ours[rel]:
            actions.append(Action("remove", dest, "no longer shipped"))
    manifest = {
        "version": 1, "host": host, "os": os_name, "engine_version": __version__,
        "files": owned, "created_dirs": sorted(set(created), key=created.index), "backups": backups,
    }
    actions.append(Action("manifest", root / MANIFEST_NAME, content=(json.dumps(manifest, indent=2) + "\n").encode()))
    return actions


def plan_uninstall(root: Path) -> list[Action]:
    manifest = read_manifest(root)
    if manifest is None:
        raise InstallError(f"nothing to uninstall: no {MANIFEST_NAME} in {root}")
    actions = []
    for f in manifest["files"]:
        dest = root / f["path"]
        if not dest.exists():
            actions.append(Action("skip", dest, "already gone"))
        elif _file_sha(dest) == f["sha256"]:
            actions.append(Action("remove", dest))
        else:
            actions.append(Action("keep", dest, "modified since install; left in place"))
    removed = {a.path for a in actions if a.kind == "remove"}
    for b in reversed(manifest["backups"]):  # newest first, so the user's original comes back last
        dest, backup = root / b["path"], root / b["backup"]
        if backup.exists() and (dest in removed or not dest.exists()):
            actions.append(Action("restore", dest, other=backup))
            removed.discard(dest)
    actions.append(Action("unmanifest", root / MANIFEST_NAME))
    dirs = [Path(os.path.normpath(root / rel)) for rel in manifest["created_dirs"]]
    for path in sorted(dirs, key=lambda p: len(p.parts), reverse=True):  # deepest first
        actions.append(Action("rmdir", path, "if empty"))
    return actions


# ---------------------------------------------------------------------------------------------- applying
def apply(actions: Sequence[Action]) -> None:
    for a in actions:
        if a.kind == "mkdir":
            a.path.mkdir(exist_ok=True)
        elif a.kind == "backup":
            os.replace(a.path, a.other)
        elif a.kind in ("write", "manifest"):
            with atomic_output(a.path, overwrite=True) as tmp:
                tmp.write_bytes(a.content)
        elif a.kind in ("remove", "unmanifest"):
            a.path.unlink(missing_ok=True)
        elif a.kind == "restore":
            os.replace(a.other, a.path)
        elif a.kind == "rmdir":
            if a.path.is_dir() and not any(a.path.iterdir()):
                a.path.rmdir()


def install(host: str, *, os_name: str | None = None, prefix: str | os.PathLike | None = None, uninstall: bool = False,
            dry_run: bool = False, engine: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> tuple[Path, list[Action]]:
    """Plan and (unless dry_run) apply an install or uninstall; returns the host folder and the actions."""
    os_name = os_name or current_os()
    root = host_folder(host, os_name, prefix=prefix, env=env)
    if uninstall:
        actions = plan_uninstall(root)
    else:
        actions = plan_install(root, files_for(host, list(engine or engine_command())), host=host, os_name=os_name)
    if not dry_run:
        apply(actions)
    return root, actions


def _check(host: str, os_name: str) -> None:
    if host not in HOSTS:
        raise InvalidParameter(f"host={host!r} is not supported; choose one of {', '.join(HOSTS)}")
    if os_name not in OS_NAMES:
        raise InvalidParameter(f"os={os_name!r} is not supported; choose one of {', '.join(OS_NAMES)}")
