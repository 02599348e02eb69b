"""Codec, address space, validation, token, roots, bind policy: pure functions, no sockets."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from stereofoley import __version__
from stereofoley.cli import main
from stereofoley.errors import InvalidOscMessage, InvalidParameter, PathNotAllowed
from stereofoley.transport import security
from stereofoley.transport.server import EngineServer
from stereofoley.files import resolve_under_roots
from stereofoley.transport.codec import decode_message, encode_message, Message
from stereofoley.transport.security import check_bind
from stereofoley.transport.server import ADDRESS_SPACE, ServerConfig, validate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "osc.md"


def test_roundtrip_keeps_types():
    args = [1, -2**40, 0.5, "päth", b"\x00\x01\x02", True]
    msg = decode_message(encode_message("/stereofoley/x", args))
    assert msg.address == "/stereofoley/x"
    assert msg.args == (1, -2**40, 0.5, "päth", b"\x00\x01\x02", True)


def test_golden_ping_datagram():
    # OSC 1.0: address padded to 4 bytes, ",i" type tags padded, big-endian int32.
    assert encode_message("/stereofoley/ping", [9000]) == b"/stereofoley/ping\x00\x00\x00,i\x00\x00\x00\x00#("


@pytest.mark.parametrize("data", [b"", b"#bundle\x00" + bytes(8), b"abc", b"/x\x00", b"/a\x00\x00,ii\x00\x00\x00\x00\x01",
                                  b"/a b\x00\x00\x00\x00", b"/\xff\xfe\x00", bytes(9000)])
def test_malformed_raise_one_error_type(data):
    with pytest.raises(InvalidOscMessage):
        decode_message(data)


def test_validate_checks_address_count_and_types():
    route, args, reply = validate(Message("/stereofoley/job/cancel", ("abc", 9001)))
    assert args == ("abc",) and reply == 9001
    with pytest.raises(InvalidOscMessage, match="unknown address"):
        validate(Message("/stereofoley/nope", ()))
    with pytest.raises(InvalidOscMessage, match="takes 1..2"):
        validate(Message("/stereofoley/job/cancel", ()))
    with pytest.raises(InvalidOscMessage, match="type 's'"):
        validate(Message("/stereofoley/job/cancel", (3,)))
    with pytest.raises(InvalidOscMessage, match="type 'f'"):
        validate(Message("/stereofoley/param/set", ("stereo_width", float("nan"))))
    with pytest.raises(InvalidOscMessage, match="reply port"):
        validate(Message("/stereofoley/ping", (70000,)))


def test_token_is_checked_and_stripped():
    token = "x" * 20
    _, args, _ = validate(Message("/stereofoley/job/status", (token, "id1")), token=token)
    assert args == ("id1",)
    for bad in [("id1",), ("y" * 20, "id1"), ()]:
        with pytest.raises(PermissionError):
            validate(Message("/stereofoley/job/status", bad), token=token)


def test_every_address_is_documented_and_handled():
    doc = DOCS.read_text()
    for address, route in ADDRESS_SPACE.items():
        assert f"`{address}" in doc, f"{address} missing from docs/osc.md"
        assert callable(getattr(EngineServer, route.handler, None)), f"no handler {route.handler} for {address}"


def test_paths_must_stay_under_roots(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.json").write_text("{}")
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    os.symlink(outside, root / "link.json")
    os.symlink(tmp_path, root / "dirlink")
    assert resolve_under_roots(str(root / "sub" / "a.json"), [root]) == (root / "sub" / "a.json").resolve()
    for bad in [str(root / "sub" / ".." / ".." / "outside.json"), str(root / "link.json"),
                str(root / "dirlink" / "outside.json"), "sub/a.json", str(outside), "", "/etc/passwd", str(root) + "\x00x"]:
        with pytest.raises(PathNotAllowed):
            resolve_under_roots(bad, [root])
    # a sibling whose name starts with the root's name is not under it
    sibling = tmp_path / "root2"
    sibling.mkdir()
    with pytest.raises(PathNotAllowed):
        resolve_under_roots(str(sibling), [root])


def test_non_loopback_bind_needs_flag_and_token():
    check_bind("127.0.0.1", token=None, allow_remote=False)
    check_bind("::1", token=None, allow_remote=False)
    with pytest.raises(InvalidParameter, match="allow_remote=True"):  # the library names its parameter
        check_bind("0.0.0.0", token="t" * 20, allow_remote=False)
    with pytest.raises(InvalidParameter, match="token"):
        ServerConfig(host="0.0.0.0", allow_remote=True)
    with pytest.raises(InvalidParameter, match="token"):
        ServerConfig(host="192.168.1.10", allow_remote=True, token="short")
    ServerConfig(host="0.0.0.0", allow_remote=True, token="t" * 20)


def test_serve_refuses_to_start_on_non_loopback_without_token(capsys, monkeypatch):
    monkeypatch.delenv("STEREOFOLEY_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--allow-remote", "--port", "0"]) == 1
    assert "token" in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 1
    assert "without --allow-remote" in capsys.readouterr().err  # the CLI names its flag


def test_datagram_limits():
    assert security.max_datagram_for("127.0.0.1") == 8192
    assert security.max_datagram_for("localhost") == 8192
    assert security.max_datagram_for("192.168.1.20") == 1400
    assert re.match(r"\d+\.\d+", __version__)
