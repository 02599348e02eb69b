"""`stereofoley install`: per-OS layouts into temporary folders, dry runs, backups, exact uninstall."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
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
    ("ardour", "windows"): "AppData/Local/Ardour7/scripts",
    ("ardour", "macos"): "Library/Preferences/Ardour7/scripts",
    ("ardour", "linux"): ".config/ardour7/scripts",
}
SHIPPED = {
    "reaper": {
        "Scripts/StereoFoley/StereoFoley_lib.lua": "reaper/StereoFoley_lib.lua",
        "Scripts/StereoFoley/StereoFoley_Send_selected_items.lua": "reaper/StereoFoley_Send_selected_items.lua",
        "Scripts/StereoFoley/StereoFoley_Live_preview_toggle.lua": "reaper/StereoFoley_Live_preview_toggle.lua",
        "Scripts/StereoFoley/StereoFoley_Import_result.lua": "reaper/StereoFoley_Import_result.lua",
    },
    "resolve": {"Utility/StereoFoley_Send_selected_clips.py": "resolve/StereoFoley_Send_selected_clips.py",
                "Utility/StereoFoley_Send_selected_clips.lua": "resolve/StereoFoley_Send_selected_clips.lua"},
}
if (plugin_dir() / "reaper/StereoFoley.ReaperOSC").is_file():  # the OSC bridge's pattern file, installed when shipped
    SHIPPED["reaper"]["OSC/StereoFoley.ReaperOSC"] = "reaper/StereoFoley.ReaperOSC"


@pytest.fixture
def ardour_plugin(tmp_path, monkeypatch) -> dict[str, str]:
    """A copy of plugin/ with a placeholder Ardour script added (the Ardour scripts are written elsewhere): the
    installer must take whatever *.lua files plugin/ardour/ holds. Returns SHIPPED-style {dest: src}."""
    copy = tmp_path / "plugin-copy"
    shutil.copytree(plugin_dir(), copy)
    (copy / "ardour").mkdir(exist_ok=True)
    (copy / "ardour" / "StereoFoley_placeholder_test.lua").write_text('ardour { ["type"] = "EditorAction", name = "placeholder" }\n')
    (copy / "ardour" / "notes.txt").write_text("not a script")
    monkeypatch.setenv("STEREOFOLEY_PLUGIN_DIR", str(copy))
    return {p.name: f"ardour/{p.name}" for p in (copy / "ardour").glob("*.lua")}


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under root."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def install(*args: str, capsys=None) -> tuple[int, dict | None]:
    code = cli.main(["install", *args, "--json"])
    out = capsys.readouterr().out if capsys else ""
    return code, (json.loads(out) if out.strip().startswith("{") else None)


@pytest.mark.parametrize("host, os_name", sorted(EXPECTED))
def test_install_then_uninstall_leaves_the_folder_as_it_was(tmp_path, capsys, host, os_name, request):
    shipped = request.getfixturevalue("ardour_plugin") if host == "ardour" else SHIPPED[host]
    prefix = tmp_path / "home"
    (prefix / "Documents").mkdir(parents=True)
    (prefix / "Documents" / "notes.txt").write_text("mine")
    before = snapshot(prefix)

    code, summary = install(host, "--prefix", str(prefix), "--os", os_name, capsys=capsys)
    assert code == 0
    root = prefix / EXPECTED[(host, os_name)]
    assert summary["folder"] == str(root) and root == host_folder(host, os_name, prefix=prefix)
    for dest, src in shipped.items():
        assert (root / dest).read_bytes() == (plugin_dir() / src).read_bytes()
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    config = {"reaper": {"Scripts/StereoFoley/StereoFoley_config.lua"}, "resolve": {"Utility/stereofoley_config.json"}, "ardour": set()}
    assert {f["path"] for f in manifest["files"]} == set(shipped) | config[host]
    assert snapshot(root).keys() == {*shipped, *config[host], MANIFEST_NAME} | {str(Path(p).parent) for p in [*shipped, *config[host]] if "/" in p} | (
        {"Scripts", "Effects", "OSC"} & {p.split("/")[0] for p in shipped})
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


def _reapack_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("reapack_index", plugin_dir().parent / "installers" / "reapack_index.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reapack_index"] = module  # (dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


def test_reapack_index_is_current_pinned_to_commits_and_lists_every_shipped_reaper_file():
    import hashlib
    import re
    import xml.etree.ElementTree as ET

    module = _reapack_module()
    committed = (plugin_dir() / "reaper" / "index.xml").read_text()
    assert committed == module.build_index(), "plugin/reaper/index.xml is stale: commit the scripts, run installers/reapack_index.py"
    root = ET.fromstring(committed)
    sources = root.findall(".//source")
    listed = [s.get("file") for s in sources]
    shipped = sorted(Path(src).name for src in SHIPPED["reaper"].values() if not src.endswith(".ReaperOSC"))
    assert sorted(listed) == shipped  # each once; ReaPack cannot install into OSC/, `stereofoley install` does
    assert {s.get("file") for s in sources if s.get("main") == "main"} == {
        "StereoFoley_Send_selected_items.lua", "StereoFoley_Live_preview_toggle.lua", "StereoFoley_Import_result.lua"}
    (version,) = {v.get("name") for v in root.iter("version")}
    repo = plugin_dir().parent
    for s in sources:
        # Pinned: a 40-hex commit in the URL (never a branch), whose copy of the file has the indexed hash.
        m = re.fullmatch(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/([0-9a-f]{40})/(plugin/reaper/[^/]+)", s.text)
        assert m and m[2] == f"plugin/reaper/{s.get('file')}", s.text
        blob = subprocess.run(["git", "-C", str(repo), "show", f"{m[1]}:{m[2]}"], capture_output=True, check=True).stdout
        assert s.get("hash") == "1220" + hashlib.sha256(blob).hexdigest()
        # Per-file headers: every file says the package version.
        assert module.read_header(plugin_dir() / "reaper" / s.get("file")).get("version") == version


def test_reapack_index_refuses_unpinnable_or_unversioned_changes(tmp_path, monkeypatch):
    module = _reapack_module()
    lib = module.REAPER_DIR / "StereoFoley_lib.lua"
    original = lib.read_bytes()
    try:
        lib.write_bytes(original + b"-- an uncommitted edit\n")
        with pytest.raises(SystemExit, match="changed since version .* bump @version"):
            module.build_index()
        monkeypatch.setattr(module, "committed_hashes", lambda: {})  # as if the version had been bumped
        with pytest.raises(SystemExit, match="plugin/reaper/StereoFoley_lib.lua has changes that are not committed"):
            module.build_index()
    finally:
        lib.write_bytes(original)
    header = module.read_header(module.REAPER_DIR / "StereoFoley_Send_selected_items.lua")
    assert module.provided(header.get("provides")) == [
        ("StereoFoley_Live_preview_toggle.lua", True), ("StereoFoley_Import_result.lua", True), ("StereoFoley_lib.lua", False)]



def test_ardour_without_scripts_is_a_clear_error(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "plugin-copy"
    shutil.copytree(plugin_dir(), copy)
    shutil.rmtree(copy / "ardour", ignore_errors=True)
    monkeypatch.setenv("STEREOFOLEY_PLUGIN_DIR", str(copy))
    code = cli.main(["install", "ardour", "--prefix", str(tmp_path / "home"), "--os", "linux"])
    err = capsys.readouterr().err
    assert code == 1 and f"no Ardour scripts (*.lua) in {copy / 'ardour'}" in err and "Traceback" not in err
    assert not (tmp_path / "home").exists()


def test_the_wheel_ships_the_host_files_and_installs_them_without_a_checkout(tmp_path):
    """Build the wheel from a copy of the source tree (so the checkout gets no build/), pip-install it into a bare
    target folder, and run `stereofoley install` from there with nothing of the checkout on the path."""
    repo = plugin_dir().parent
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("engine", "adapters", "plugin"):
        shutil.copytree(repo / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(repo / name, src / name)
    (src / "plugin" / "ardour").mkdir(exist_ok=True)
    (src / "plugin" / "ardour" / "StereoFoley_placeholder_test.lua").write_text('ardour { ["type"] = "EditorAction", name = "placeholder" }\n')
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)], check=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("stereofoley-*.whl")
    shipped_in_repo = {p.relative_to(src / "plugin").as_posix() for p in (src / "plugin").rglob("*") if p.is_file()}
    in_wheel = {n.removeprefix("stereofoley/plugin/") for n in zipfile.ZipFile(wheel).namelist() if n.startswith("stereofoley/plugin/")}
    assert in_wheel == shipped_in_repo and "ardour/StereoFoley_placeholder_test.lua" in in_wheel

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], check=True, cwd=tmp_path)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    code = ("import sys, json, stereofoley.install as i; print(json.dumps([i.__file__, str(i.plugin_dir())])); "
            "from stereofoley import cli; sys.exit(cli.main(sys.argv[1:]))")
    for host, dest in (("reaper", "Scripts/StereoFoley/StereoFoley_Send_selected_items.lua"),
                       ("resolve", "Utility/StereoFoley_Send_selected_clips.py"),
                       ("ardour", "StereoFoley_placeholder_test.lua")):
        prefix = tmp_path / "home" / host
        run = subprocess.run([sys.executable, "-c", code, "install", host, "--prefix", str(prefix), "--os", "linux", "--json"],
                             capture_output=True, text=True, cwd=tmp_path, env=env)
        assert run.returncode == 0, run.stderr
        where, summary = run.stdout.splitlines()[0], json.loads("".join(run.stdout.splitlines()[1:]))
        module_file, plugin = json.loads(where)
        assert Path(module_file).is_relative_to(site) and Path(plugin) == site / "stereofoley" / "plugin"
        root = Path(summary["folder"])
        assert root == host_folder(host, "linux", prefix=prefix)
        src_name = {"reaper": "reaper/StereoFoley_Send_selected_items.lua", "resolve": "resolve/StereoFoley_Send_selected_clips.py",
                    "ardour": "ardour/StereoFoley_placeholder_test.lua"}[host]
        assert (root / dest).read_bytes() == (src / "plugin" / src_name).read_bytes()
        written = {Path(a["path"]).relative_to(root).as_posix() for a in summary["actions"] if a["kind"] == "write"}
        assert dest in written
