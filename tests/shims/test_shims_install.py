"""`stereofoley install`: per-OS layouts into temporary folders, dry runs, backups, exact uninstall."""

from __future__ import annotations

import json
from pathlib import Path

import lupa
import pytest

from stereofoley import cli
from stereofoley.errors import MediaNotFound
from stereofoley.install import MANIFEST_NAME, host_folder, plugin_dir

EXPECTED = {
    ("reaper", "windows"): "AppData/Roaming/REAPER",
    ("reaper", "macos"): "Library/Application Support/REAPER",
    ("reaper", "linux"): ".config/REAPER",
    ("resolve", "windows"): "AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts",
    ("resolve", "macos"): "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts",
    ("resolve", "linux"): ".local/share/DaVinciResolve/Fusion/Scripts",
}
SHIPPED = {
    "reaper": {
        "Scripts/StereoFoley/StereoFoley_lib.lua": "reaper/StereoFoley_lib.lua",
        "Scripts/StereoFoley/StereoFoley_Send_selected_items.lua": "reaper/StereoFoley_Send_selected_items.lua",
        "Scripts/StereoFoley/StereoFoley_Live_preview_toggle.lua": "reaper/StereoFoley_Live_preview_toggle.lua",
        "Scripts/StereoFoley/StereoFoley_Import_result.lua": "reaper/StereoFoley_Import_result.lua",
        "Effects/StereoFoley/StereoFoley_Spatial.jsfx": "reaper/StereoFoley_Spatial.jsfx",
    },
    "resolve": {"Utility/StereoFoley_Send_selected_clips.py": "resolve/StereoFoley_Send_selected_clips.py"},
}
if (plugin_dir() / "reaper/StereoFoley.ReaperOSC").is_file():  # the OSC bridge's pattern file, installed when shipped
    SHIPPED["reaper"]["OSC/StereoFoley.ReaperOSC"] = "reaper/StereoFoley.ReaperOSC"


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under root."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def install(*args: str, capsys=None) -> tuple[int, dict | None]:
    code = cli.main(["install", *args, "--json"])
    out = capsys.readouterr().out if capsys else ""
    return code, (json.loads(out) if out.strip().startswith("{") else None)


@pytest.mark.parametrize("host, os_name", sorted(EXPECTED))
def test_install_then_uninstall_leaves_the_folder_as_it_was(tmp_path, capsys, host, os_name):
    prefix = tmp_path / "home"
    (prefix / "Documents").mkdir(parents=True)
    (prefix / "Documents" / "notes.txt").write_text("mine")
    before = snapshot(prefix)

    code, summary = install(host, "--prefix", str(prefix), "--os", os_name, capsys=capsys)
    assert code == 0
    root = prefix / EXPECTED[(host, os_name)]
    assert summary["folder"] == str(root) and root == host_folder(host, os_name, prefix=prefix)
    for dest, src in SHIPPED[host].items():
        assert (root / dest).read_bytes() == (plugin_dir() / src).read_bytes()
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert {f["path"] for f in manifest["files"]} == set(SHIPPED[host]) | {
        "Scripts/StereoFoley/StereoFoley_config.lua" if host == "reaper" else "Utility/stereofoley_config.json"}
    assert manifest["backups"] == []

    code, summary = install(host, "--prefix", str(prefix), "--os", os_name, "--uninstall", capsys=capsys)
    assert code == 0
    assert snapshot(prefix) == before


@pytest.mark.parametrize("host", ["reaper", "resolve"])
def test_dry_run_writes_nothing_and_lists_the_plan(tmp_path, capsys, host):
    prefix = tmp_path / "home"
    prefix.mkdir()
    code, summary = install(host, "--prefix", str(prefix), "--os", "linux", "--dry-run", capsys=capsys)
    assert code == 0 and summary["dry_run"] is True
    assert snapshot(prefix) == {}
    written = {a["path"] for a in summary["actions"] if a["kind"] == "write"}
    root = host_folder(host, "linux", prefix=prefix)
    assert {str(root / d) for d in SHIPPED[host]} <= written
    # An uninstall dry run after a real install changes nothing either.
    install(host, "--prefix", str(prefix), "--os", "linux", capsys=capsys)
    installed = snapshot(prefix)
    code, summary = install(host, "--prefix", str(prefix), "--os", "linux", "--uninstall", "--dry-run", capsys=capsys)
    assert code == 0 and snapshot(prefix) == installed
    assert {a["kind"] for a in summary["actions"]} >= {"remove", "unmanifest", "rmdir"}


def test_a_users_file_is_backed_up_and_restored(tmp_path, capsys):
    prefix = tmp_path / "home"
    root = host_folder("reaper", "macos", prefix=prefix)
    theirs = root / "Scripts/StereoFoley/StereoFoley_lib.lua"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("-- my own edits\n")
    (root / "reaper.ini").write_text("[reaper]\n")
    before = snapshot(prefix)

    code, summary = install("reaper", "--prefix", str(prefix), "--os", "macos", capsys=capsys)
    assert code == 0
    (backup,) = [a for a in summary["actions"] if a["kind"] == "backup"]
    assert backup["path"] == str(theirs) and Path(backup["to"]).read_text() == "-- my own edits\n"
    assert theirs.read_bytes() == (plugin_dir() / "reaper/StereoFoley_lib.lua").read_bytes()

    # Reinstalling is a no-op: everything is ours and up to date.
    code, summary = install("reaper", "--prefix", str(prefix), "--os", "macos", capsys=capsys)
    assert {a["kind"] for a in summary["actions"]} == {"skip", "manifest"}

    install("reaper", "--prefix", str(prefix), "--os", "macos", "--uninstall", capsys=capsys)
    assert snapshot(prefix) == before


def test_files_edited_after_install_are_kept_on_uninstall_and_backed_up_on_reinstall(tmp_path, capsys):
    prefix = tmp_path / "home"
    install("resolve", "--prefix", str(prefix), "--os", "windows", capsys=capsys)
    root = host_folder("resolve", "windows", prefix=prefix)
    script = root / "Utility/StereoFoley_Send_selected_clips.py"
    script.write_text("# tweaked by the user\n")

    code, summary = install("resolve", "--prefix", str(prefix), "--os", "windows", capsys=capsys)
    assert [a["kind"] for a in summary["actions"] if a["path"] == str(script)] == ["backup", "write"]
    script.write_text("# tweaked again\n")
    code, summary = install("resolve", "--prefix", str(prefix), "--os", "windows", "--uninstall", capsys=capsys)
    assert code == 0
    assert script.read_text() == "# tweaked again\n"  # modified since install: left in place
    assert [a["kind"] for a in summary["actions"] if a["path"] == str(script)] == ["keep"]


def test_generated_configs_name_the_engine(tmp_path, capsys):
    prefix = tmp_path / "home"
    engine = '/opt/sf env/bin/python -m stereofoley.cli'
    install("reaper", "--prefix", str(prefix), "--os", "linux", "--engine", f"'/opt/sf env/bin/python' -m stereofoley.cli", capsys=capsys)
    install("resolve", "--prefix", str(prefix), "--os", "linux", "--engine", f"'/opt/sf env/bin/python' -m stereofoley.cli", capsys=capsys)
    lua_config = host_folder("reaper", "linux", prefix=prefix) / "Scripts/StereoFoley/StereoFoley_config.lua"
    config = lupa.LuaRuntime().execute(lua_config.read_text())
    assert " ".join(config.engine[i] for i in range(1, len(config.engine) + 1)) == engine
    resolve_config = json.loads((host_folder("resolve", "linux", prefix=prefix) / "Utility/stereofoley_config.json").read_text())
    assert resolve_config == {"engine": ["/opt/sf env/bin/python", "-m", "stereofoley.cli"]}


def test_errors_are_clear(tmp_path, capsys, monkeypatch):
    code = cli.main(["install", "reaper", "--prefix", str(tmp_path), "--os", "linux", "--uninstall"])
    assert code == 1 and "nothing to uninstall" in capsys.readouterr().err
    monkeypatch.setenv("STEREOFOLEY_PLUGIN_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(MediaNotFound, match="STEREOFOLEY_PLUGIN_DIR"):
        plugin_dir()
    with pytest.raises(SystemExit):
        cli.main(["install", "cubase"])


def test_reapack_index_is_current_and_lists_every_shipped_reaper_file():
    import importlib.util
    import xml.etree.ElementTree as ET

    spec = importlib.util.spec_from_file_location("reapack_index", plugin_dir().parent / "installers" / "reapack_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (plugin_dir() / "reaper" / "index.xml").read_text()
    assert committed == module.build_index(), "plugin/reaper/index.xml is stale: run installers/reapack_index.py"
    root = ET.fromstring(committed)
    sources = root.findall(".//source")
    listed = [s.get("file") for s in sources]
    shipped = sorted(Path(src).name for src in SHIPPED["reaper"].values() if not src.endswith(".ReaperOSC"))
    assert sorted(listed) == shipped  # each once; ReaPack cannot install into OSC/, `stereofoley install` does
    assert {s.get("file") for s in sources if s.get("main") == "main"} == {
        "StereoFoley_Send_selected_items.lua", "StereoFoley_Live_preview_toggle.lua", "StereoFoley_Import_result.lua"}
    for s in sources:
        assert s.text.endswith("/" + s.get("file")) and s.text.startswith("https://")
