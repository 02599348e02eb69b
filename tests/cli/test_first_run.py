"""The first run ever on a machine: an empty HOME, no ultralytics settings, no caches.

`--json` must print exactly one JSON document even when a third-party library sets itself up on first import,
and the engine keeps ultralytics' settings in its own config folder with usage analytics off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CLEARED = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "YOLO_CONFIG_DIR", "STEREOFOLEY_CONFIG",
           "STEREOFOLEY_CACHE")


def test_demo_json_parses_with_an_empty_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED} | {"HOME": str(home)}
    result = subprocess.run([sys.executable, "-m", "stereofoley.cli", "demo", "--out", str(tmp_path / "d"), "--json"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert summary["ok"] is True
    settings = home / ".config" / "stereofoley" / "Ultralytics" / "settings.json"
    assert settings.is_file(), sorted(str(p.relative_to(home)) for p in home.rglob("*"))[:20]
    assert json.loads(settings.read_text())["sync"] is False
    assert not (home / ".config" / "Ultralytics").exists()  # the user's own ultralytics settings are untouched
