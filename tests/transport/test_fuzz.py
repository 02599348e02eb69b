"""Fuzzing: 10,000+ malformed or random datagrams from hypothesis, each checked in-process (only our one error
type may come out of decoding/validation) and sent to a live server, which must still answer a ping afterwards."""

from __future__ import annotations

import json
import socket
import time

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from stereofoley import __version__
from stereofoley.errors import InvalidOscMessage
from stereofoley.transport.client import OscClient
from stereofoley.transport.codec import decode_message, encode_message
from stereofoley.transport.server import ADDRESS_SPACE, ServerConfig, ServerThread, validate
from stereofoley.transport.stream import decode_stream_message

N_DATAGRAMS = 10_000
PER_EXAMPLE = 50  # datagrams drawn per hypothesis example: far less per-example overhead
ADDRESSES = sorted(ADDRESS_SPACE) + ["/time", "/play", "/stereofoley/audio", "/x"]

osc_args = st.lists(st.one_of(
    st.integers(-2**31, 2**31 - 1), st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.text(max_size=40).filter(lambda s: "\x00" not in s), st.binary(min_size=1, max_size=40), st.booleans(),
    st.sampled_from(["../../etc/passwd", "/etc/passwd", "{}", '{"version": 1}', "stereo_width", "/tmp/../root"]),
), max_size=5)


@st.composite
def well_formed(draw):
    """Real OSC messages at real addresses with wrong, random or hostile arguments."""
    try:
        return encode_message(draw(st.sampled_from(ADDRESSES)), draw(osc_args))
    except Exception:
        return b"/stereofoley/ping\x00\x00\x00"


@st.composite
def mangled(draw):
    """A valid message with bytes flipped, cut or appended: the parser's edge cases."""
    data = bytearray(draw(well_formed()))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=8))


datagrams = st.one_of(
    st.binary(max_size=200),
    st.binary(min_size=1, max_size=64).map(lambda b: b"/" + b),
    st.binary(max_size=64).map(lambda b: b"#bundle\x00" + b),
    well_formed(),
    mangled(),
    st.builds(lambda s, a: b"/stereofoley/job/submit\x00,s\x00\x00" + json.dumps(s).encode()[:a] + b"\x00",
              st.recursive(st.none() | st.integers() | st.text(max_size=10), lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c), max_leaves=8),
              st.integers(0, 200)),
)


def test_server_survives_fuzzing(root, caplog):
    config = ServerConfig(port=0, roots=(root,), rate_per_s=1e9, burst=10**9)
    sent = []
    with ServerThread(config) as srv:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.bind(("127.0.0.1", 0))
        tx.setblocking(False)

        @seed(20261130)
        @settings(max_examples=N_DATAGRAMS // PER_EXAMPLE, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.lists(datagrams, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
        def fuzz(batch):
            for data in batch:
                one(data)

        def one(data):
            for check in (lambda: validate(decode_message(data)), lambda: decode_stream_message(data)):
                try:
                    check()
                except (InvalidOscMessage, PermissionError):
                    pass  # the only acceptable failures
            try:
                tx.sendto(data, srv.address)
            except (BlockingIOError, OSError):
                pass  # a full send buffer or an empty datagram: the server never saw it
            sent.append(len(data))
            if len(sent) % 200 == 0:
                time.sleep(0.002)  # let the server's loop drain its socket

        fuzz()
        from_hypothesis = len(sent)
        tx.close()
        with OscClient(*srv.address) as client:
            assert client.ping(5.0) == __version__
        counts = srv.counters.snapshot()
    print(f"fuzz: {from_hypothesis} datagrams, server counters {counts}")
    assert from_hypothesis >= N_DATAGRAMS, from_hypothesis
    assert counts["received"] >= 0.9 * N_DATAGRAMS, counts
    assert counts.get("malformed", 0) + counts.get("invalid", 0) >= 0.5 * N_DATAGRAMS, counts
    assert counts.get("internal_errors", 0) == 0, counts
