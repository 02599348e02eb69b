"""Write plugin/reaper/index.xml, the ReaPack index of the REAPER scripts, from the files' own headers.

    python installers/reapack_index.py [--url-template TEMPLATE]

Each shipped file says what it is in its ReaPack header (comment lines at its top):
  a package file has `@version`, `@description`, `@author` and `@provides` (its other files, `[main]` for
  the ones that are actions, `[nomain]` for the rest); every provided file carries `@noindex` and the same
  `@version`. Every .lua file in plugin/reaper/ must be a package or provided by one.
Each source URL is pinned to the commit that last changed that file (`git log -1 -- FILE`), whose copy is
checked to be byte-identical to the file here, so a published index never follows a mutable branch: commit
the scripts first, then run this and commit the index. ReaPack installs a package again only when its
version changes, so a file whose hash differs from the committed index under the same version is refused
(bump `@version`). The test suite fails while the committed index is stale.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

REPO = Path(__file__).resolve().parents[1]
REAPER_DIR = REPO / "plugin" / "reaper"
INDEX = REAPER_DIR / "index.xml"
# {commit} and {path} (relative to the repository) are filled in. Check it before publishing the index.
DEFAULT_URL_TEMPLATE = "https://raw.githubusercontent.com/stereofoley/stereofoley/{commit}/{path}"
TYPES = {".lua": "script", ".jsfx": "effect"}


class IndexError_(SystemExit):
    pass


@dataclass(frozen=True)
class Header:
    tags: dict[str, str]  # tag -> value (multi-line values joined with "\n")

    def get(self, tag: str) -> str | None:
        return self.tags.get(tag)


def read_header(path: Path) -> Header:
    """The leading comment block's `@tag value` lines; indented comment lines continue the previous tag."""
    tags: dict[str, list[str]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*(?:--|//)(.*)$", line)
        if not m:
            break
        body = m[1]
        tag = re.match(r"^\s*@(\w+)\s*(.*)$", body)
        if tag:
            current = tag[1]
            tags[current] = [tag[2].strip()] if tag[2].strip() else []
        elif current and re.match(r"^\s{2,}\S", body):
            tags[current].append(body.strip())
        else:
            current = None
    return Header({k: "\n".join(v) for k, v in tags.items()})


def multihash(data: bytes) -> str:
    return "1220" + hashlib.sha256(data).hexdigest()  # sha2-256 multihash, as ReaPack expects


def pinned_commit(path: Path) -> str:
    """The commit that last changed `path`, after checking its copy there is this file byte for byte."""
    rel = path.relative_to(REPO).as_posix()
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%H", "--", rel], capture_output=True, text=True, check=True).stdout.strip()
        blob = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:{rel}"], capture_output=True, check=True).stdout if commit else None
    except (OSError, subprocess.CalledProcessError) as exc:
        raise IndexError_(f"cannot ask git about {rel}: {exc}") from None
    if not commit or blob != path.read_bytes():
        raise IndexError_(f"{rel} has changes that are not committed; commit it first (the index pins each file to a commit)")
    return commit


def provided(value: str | None) -> list[tuple[str, bool]]:
    """(file, is an action) for each line of an @provides value."""
    out = []
    for line in (value or "").splitlines():
        m = re.match(r"^(?:\[(main|nomain)\]\s*)?(\S+)$", line.strip())
        if not m:
            raise IndexError_(f"cannot read @provides line {line!r}")
        out.append((m[2], m[1] == "main"))
    return out


def committed_hashes() -> dict[tuple[str, str], str]:
    """(version, file) -> hash in the committed index, to refuse changed files under an unchanged version."""
    if not INDEX.is_file():
        return {}
    root = ET.fromstring(INDEX.read_text(encoding="utf-8"))
    return {(v.get("name"), s.get("file")): s.get("hash") for v in root.iter("version") for s in v.iter("source")}


def build_index(url_template: str = DEFAULT_URL_TEMPLATE) -> str:
    files = sorted(p for p in REAPER_DIR.iterdir() if p.suffix in TYPES)
    headers = {p.name: read_header(p) for p in files}
    packages = [p for p in files if headers[p.name].get("version") is not None and headers[p.name].get("noindex") is None]
    owned: dict[str, str] = {}
    old = committed_hashes()
    blocks = []
    for pkg in packages:
        h = headers[pkg.name]
        for tag in ("description", "author", "version"):
            if not h.get(tag):
                raise IndexError_(f"{pkg.name} has no @{tag}")
        version = h.get("version")
        sources = [(pkg.name, True)] + provided(h.get("provides"))
        lines = [f'    <reapack name={quoteattr(pkg.name)} type="{TYPES[pkg.suffix]}" desc={quoteattr(h.get("description"))}>',
                 f'      <version name={quoteattr(version)} author={quoteattr(h.get("author"))}>']
        for name, main in sources:
            path = REAPER_DIR / name
            if not path.is_file():
                raise IndexError_(f"{pkg.name} provides {name}, which is not in {REAPER_DIR}")
            if name in owned:
                raise IndexError_(f"{name} is provided by both {owned[name]} and {pkg.name}")
            owned[name] = pkg.name
            if name != pkg.name:
                fh = headers.get(name) or read_header(path)
                if fh.get("noindex") is None or fh.get("version") != version:
                    raise IndexError_(f"{name} (provided by {pkg.name}) needs @noindex and @version {version}")
            data = path.read_bytes()
            digest = multihash(data)
            if old.get((version, name), digest) != digest:
                raise IndexError_(f"{name} changed since version {version} was indexed; bump @version in {pkg.name}")
            url = url_template.format(commit=pinned_commit(path), path=path.relative_to(REPO).as_posix())
            main_attr = ' main="main"' if main and pkg.suffix == ".lua" else ""
            lines.append(f"        <source file={quoteattr(name)} hash=\"{digest}\"{main_attr}>{escape(url)}</source>")
        lines += ["      </version>", "    </reapack>"]
        blocks += lines
    orphans = sorted(p.name for p in files if p.name not in owned)
    if orphans:
        raise IndexError_(f"not in any package (add them to a package's @provides): {', '.join(orphans)}")
    head = ['<?xml version="1.0" encoding="utf-8"?>', '<!-- Generated by installers/reapack_index.py: do not edit by hand. -->',
            '<index version="1" name="StereoFoley">', '  <category name="StereoFoley">']
    return "\n".join(head + blocks + ["  </category>", "</index>"]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url-template", default=DEFAULT_URL_TEMPLATE, help="source URL with {commit} and {path} (default: %(default)s)")
    args = parser.parse_args(argv)
    text = build_index(args.url_template)
    INDEX.write_text(text, encoding="utf-8")
    print(f"wrote {INDEX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
