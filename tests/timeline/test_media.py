"""Media resolution: file URLs (Windows and POSIX), plain and relative paths, remaps, search roots, and the
references that name no media."""

import opentimelineio as otio
import pytest

from stereofoley.errors import InvalidParameter
from stereofoley.timeline.media import MediaSearch, reference_path, resolve


def ext(url):
    return otio.schema.ExternalReference(target_url=url)


@pytest.fixture
def media(tmp_path):
    folder = tmp_path / "proj" / "media"
    folder.mkdir(parents=True)
    for name in ("a.mov", "b c.mov", "sub/d.mov"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    return folder


def test_urls_become_paths():
    assert reference_path(ext("file://localhost/D%3a/media/x.mov")) == "D:/media/x.mov"
    assert reference_path(ext("file:///folder/a%20b.mov")) == "/folder/a b.mov"
    assert reference_path(ext("C:\\Users\\me\\x.mov")) == "C:\\Users\\me\\x.mov"  # Resolve: plain OS path
    assert reference_path(ext("https://example.com/x.mov")) is None
    assert reference_path(otio.schema.MissingReference()) is None


def test_absolute_url_and_plain_path(media):
    url = otio.url_utils.url_from_filepath(str(media / "b c.mov"))
    assert resolve(ext(url), MediaSearch()).path == (media / "b c.mov").resolve()
    assert resolve(ext(str(media / "a.mov")), MediaSearch()).path == (media / "a.mov").resolve()


def test_relative_paths_resolve_against_the_timeline_folder(media):
    search = MediaSearch(timeline_dir=media.parent)
    assert resolve(ext("media/a.mov"), search).path == (media / "a.mov").resolve()
    assert resolve(ext("media/sub/d.mov"), search).path == (media / "sub" / "d.mov").resolve()


def test_windows_url_found_through_a_remap_or_a_media_root(media):
    premiere = ext("file://localhost/D%3a/Projects/media/sub/d.mov")
    assert resolve(premiere, MediaSearch(remaps=(("d:/Projects/media", str(media)),))).path == (media / "sub" / "d.mov").resolve()
    assert resolve(premiere, MediaSearch(roots=(media,))).path == (media / "sub" / "d.mov").resolve()  # root/sub/d.mov
    assert resolve(ext("D:\\elsewhere\\a.mov"), MediaSearch(roots=(media,))).path == (media / "a.mov").resolve()
    missing = resolve(premiere, MediaSearch())
    assert missing.path is None and "media file not found: D:/Projects/media/sub/d.mov" in missing.reason


def test_remap_rules_are_checked():
    assert MediaSearch.parse_remap("D:/media=/mnt/m") == ("D:/media", "/mnt/m")
    with pytest.raises(InvalidParameter, match="OLD_PREFIX=NEW_PREFIX"):
        MediaSearch.parse_remap("no-equals-sign")


def test_references_without_media_say_why():
    assert resolve(None, MediaSearch()).reason == "missing media reference"
    assert resolve(otio.schema.MissingReference(), MediaSearch()).reason == "missing media reference"
    gen = otio.schema.GeneratorReference(generator_kind="SolidColor")
    assert "generator reference (SolidColor)" in resolve(gen, MediaSearch()).reason
    assert "not a local file" in resolve(ext("https://example.com/x.mov"), MediaSearch()).reason
