"""`stereofoley preview play RESULT --to adm-osc://...`: an independent receiver (python-osc's own server) on
loopback checks what an ADM-OSC renderer would get; target URLs; the Ardour OSC pan mapping."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from stereofoley import cli
from stereofoley.errors import InvalidParameter
from stereofoley.transport.targets import adm_values, ardour_osc_pan, parse_target

from .conftest import render_edit

HFOV_DEG = 60.0
DMAX_M = 50.0


class Receiver:
    """python-osc's threading UDP server on 127.0.0.1: every message with its arrival time."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, str, tuple]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(lambda address, *args: self.messages.append((time.monotonic(), address, args)))
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        time.sleep(0.1)
        self.server.shutdown()
        self.server.server_close()

    def of(self, address: str) -> list[tuple[float, tuple]]:
        return [(t, a) for t, addr, a in self.messages if addr == address]


@pytest.fixture(scope="module")
def edit(tmp_path_factory):
    return render_edit(tmp_path_factory.mktemp("edit"), "dry")


def test_adm_osc_objects_follow_the_curves(edit, tmp_path):
    report = json.loads(edit.report.read_text())
    objects = report["clips"][0]["objects"]
    start_s, duration_s = 0.7, 1.0
    with Receiver() as rx:
        code = cli.main(["preview", "play", str(edit.report), "--to", f"adm-osc://127.0.0.1:{rx.port}",
                         "--start", str(start_s), "--duration", str(duration_s), "--rate", "50"])
    assert code == 0
    for n, obj in enumerate(objects, start=1):
        names = rx.of(f"/adm/obj/{n}/name")
        assert [a for _, a in names] == [(obj["name"],)]  # once
        aed = rx.of(f"/adm/obj/{n}/aed")
        assert 0.85 * 50 * duration_s <= len(aed) <= 1.1 * 50 * duration_s + 2  # ~50 Hz
        assert all(len(a) == 3 for _, a in aed)
        gains = rx.of(f"/adm/obj/{n}/gain")
        assert len(gains) == len(aed) and all(a == (1.0,) for _, a in gains)
        # Each message's azimuth gives the pan, hence the clip time on the (monotonic) pan curve; distance must be
        # the one the gain curve gives at that time, and the clip times must advance with the receiver's clock.
        pan_t = np.array([p[0] for p in obj["curves"]["pan"]])
        pan_v = np.array([p[1] for p in obj["curves"]["pan"]])
        gain_t = np.array([p[0] for p in obj["curves"]["gain_db"]])
        gain_v = np.array([p[1] for p in obj["curves"]["gain_db"]])
        order = np.argsort(pan_v)
        arrival = np.array([t for t, _ in aed])
        azimuth = np.array([a[0] for _, a in aed])
        pan = -azimuth / (HFOV_DEG / 2)
        assert np.all(np.abs(pan) <= 1.0)
        clip_t = np.interp(pan, pan_v[order], pan_t[order])
        expected = np.array([adm_values(p, g, hfov_deg=HFOV_DEG, dmax_m=DMAX_M)[2]
                             for p, g in zip(pan, np.interp(clip_t, gain_t, gain_v))])
        assert np.max(np.abs(np.array([a[2] for _, a in aed]) - expected)) < 2e-4  # float32 on the wire
        assert np.all(np.array([a[1] for _, a in aed]) == 0.0)
        record_start_s = report["clips"][0]["record_start_s"]
        assert clip_t[0] == pytest.approx(start_s - record_start_s, abs=0.03)
        slope = np.polyfit(arrival - arrival[0], clip_t, 1)[0]
        assert slope == pytest.approx(1.0, abs=0.05)  # the internal clock runs at real time
    first = rx.of("/adm/obj/1/aed")[0][1]
    assert first[0] > 0  # object 1 starts left of centre: positive azimuth (ADM-OSC: positive = left)


def test_adm_osc_separate_values_and_clip_changes(edit):
    with Receiver() as rx:
        code = cli.main(["preview", "play", str(edit.report), "--to", f"adm-osc://127.0.0.1:{rx.port}?packed=0&gain=engine",
                         "--start", "2.4", "--duration", "0.8", "--rate", "40"])
    assert code == 0
    assert not rx.of("/adm/obj/1/aed") and rx.of("/adm/obj/1/azim") and rx.of("/adm/obj/1/elev") and rx.of("/adm/obj/1/dist")
    # clip 0 ends at 2.5 s: its two objects get gain 0 once; clip 1 (from 3.0 s) names its object 1
    gains2 = [a[0] for _, a in rx.of("/adm/obj/2/gain")]
    assert gains2[-1] == 0.0 and gains2.count(0.0) == 1 and all(0 < g <= 1 for g in gains2[:-1])
    names1 = [a[0] for _, a in rx.of("/adm/obj/1/name")]
    assert names1 == ["object 1", "object 1"]  # clip 0's object 1 at the start, clip 1's at 3.0 s


def test_target_urls_and_errors(edit):
    assert parse_target("adm-osc://10.0.0.5").port == 4001
    assert parse_target("ardour://127.0.0.1").port == 3819
    assert parse_target("reaper://h:9000?first=3").options == {"first": "3"}
    for bad in ("osc://x:1", "adm-osc://:4001", "adm-osc://h:99999"):
        with pytest.raises(InvalidParameter):
            parse_target(bad)
    assert cli.main(["preview", "play", str(edit.report)]) == 1  # no target
    assert cli.main(["preview", "play", str(edit.report), "--to", "adm-osc://127.0.0.1:9", "--start", "99"]) == 1


def test_ardour_osc_pan_is_one_minus_azimuth():
    assert ardour_osc_pan(0.0) == pytest.approx(0.5, abs=1e-4)
    assert ardour_osc_pan(-1.0) == pytest.approx(1.0, abs=1e-4)  # hard left: Ardour's OSC position 1
    assert ardour_osc_pan(1.0) == pytest.approx(0.0, abs=1e-4)


def test_adm_osc_while_following_reaper(edit):
    """A fake REAPER on loopback sends /play and /time at 30 Hz (its feedback) from 1.0 s; the engine follows it
    and sends ADM-OSC: the clip time each message encodes is REAPER's time at that moment."""
    import socket as socket_module

    from stereofoley.transport.codec import encode_message

    probe = socket_module.socket(socket_module.AF_INET, socket_module.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    listen = probe.getsockname()[1]
    probe.close()
    report = json.loads(edit.report.read_text())
    obj = report["clips"][0]["objects"][0]
    reaper_start_s, play_s = 1.0, 1.2
    timeline: list[tuple[float, float]] = []

    def reaper() -> None:
        out = socket_module.socket(socket_module.AF_INET, socket_module.SOCK_DGRAM)
        time.sleep(1.0)  # the engine starts listening
        t0 = time.monotonic()
        out.sendto(encode_message("/play", [1.0]), ("127.0.0.1", listen))
        while (elapsed := time.monotonic() - t0) < play_s:
            position = reaper_start_s + elapsed
            timeline.append((time.monotonic(), position))
            out.sendto(encode_message("/time", [position]), ("127.0.0.1", listen))
            time.sleep(1 / 30)
        out.sendto(encode_message("/stop", [1.0]), ("127.0.0.1", listen))
        out.close()

    with Receiver() as rx:
        thread = threading.Thread(target=reaper)
        thread.start()
        code = cli.main(["preview", "play", str(edit.report), "--to", f"adm-osc://127.0.0.1:{rx.port}",
                         "--follow", f"reaper://127.0.0.1?listen={listen}", "--duration", str(1.0 + play_s + 0.5)])
        thread.join()
    assert code == 0
    aed = rx.of("/adm/obj/1/aed")
    assert len(aed) > 0.7 * 50 * play_s
    pan_t = np.array([p[0] for p in obj["curves"]["pan"]])
    pan_v = np.array([p[1] for p in obj["curves"]["pan"]])
    clip_t = np.interp(-np.array([a[0] for _, a in aed]) / (HFOV_DEG / 2), pan_v, pan_t)  # pan rises with time
    reaper_t = np.interp([t for t, _ in aed], [t for t, _ in timeline], [p for _, p in timeline]) - report["clips"][0]["record_start_s"]
    assert np.max(np.abs(clip_t - reaper_t)[5:]) < 0.05  # s, after the first /time reports
    assert [t for t, _ in aed][-1] <= timeline[-1][0] + 0.1  # stops when REAPER stops
