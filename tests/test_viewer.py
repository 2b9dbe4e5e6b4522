"""The browser viewer: the page's data, the step CLI, and the page in headless Chromium.

The browser tests drive Debian's ``chromium`` over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: NUL-separated JSON on file descriptors 3 and 4), with the
standard library only. They skip when Chromium is not installed (``apt-get install chromium``;
``CHROMIUM=/path`` chooses another build).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from data_processing.files import PipelineError
from data_processing.motion import Motion, load_motion
from helpers import make_viewer, viewer
from tests.conftest import REPO

CHROMIUM = os.environ.get("CHROMIUM") or next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
# Current Chromium needs software WebGL asked for explicitly on a machine without a GPU.
CHROMIUM_FLAGS = ["--headless=new", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                  "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                  "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
                  "--window-size=1280,720", "--force-device-scale-factor=1"]
if hasattr(os, "geteuid") and os.geteuid() == 0:
    CHROMIUM_FLAGS.append("--no-sandbox")  # Chromium refuses to sandbox itself as root
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(apt-get install chromium, or set CHROMIUM=/path)")


# --------------------------------------------------------------------------------------------
# Data


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """Two demo-speaker recordings of 5 s (60 fps BVH, 16 kHz speech)."""
    from data_processing.demo_speaker import write_demo_dataset

    out = tmp_path_factory.mktemp("viewer_demo")
    write_demo_dataset(out, files=2, seconds=5.0, seed=3, workers=1)
    return out


@pytest.fixture(scope="module")
def truth(demo) -> list[Motion]:
    return [load_motion(p) for p in sorted((demo / "motion").glob("*.bvh"))]


@pytest.fixture(scope="module")
def speech(demo) -> list[Path]:
    return sorted((demo / "speech").glob("*.wav"))


def two_files(truth) -> dict:
    """{file: {method: samples}}: the truth, a 20 fps method, a sampled 30 fps method."""
    first, second = truth
    return {
        "demo_000": {"ground truth": first, "twenty": first.resample(20.0),
                     "sampled": [first.resample(30.0), second.resample(30.0)]},
        "demo_001": {"ground truth": second, "short": second.crop(second.n_frames // 2)},
    }


@pytest.fixture(scope="module")
def page(truth, speech, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("viewer_page")
    return viewer.build_viewer(out, motions=two_files(truth),
                               audio={"demo_000": speech[0], "demo_001": speech[1]},
                               title="test <viewer>", table_html="<table><tr><td>APE</td>"
                               "</tr></table>")


def test_the_page_holds_every_method_and_the_positions_round_trip(page, truth, speech):
    data = viewer.embedded_data(page)
    methods = two_files(truth)
    assert [f["id"] for f in data["files"]] == list(methods)
    for file, expected in zip(data["files"], methods.values()):
        assert [m["name"] for m in file["methods"]] == list(expected)
        for method, samples in zip(file["methods"], expected.values()):
            samples = samples if isinstance(samples, list) else [samples]
            assert len(method["samples"]) == len(samples)
            for got, motion in zip(method["samples"], samples):
                decoded = viewer.decode_positions(got["positions"], got["frames"], got["joints"])
                np.testing.assert_array_equal(decoded, motion.positions.astype(np.float32))
                assert got["fps"] == motion.fps
                assert got["parents"] == motion.skeleton.parents.tolist()
                assert got["names"] == list(motion.skeleton.names)
        assert file["duration"] == pytest.approx(5.0)
    wav = base64.b64decode(data["files"][0]["audio"].split(",", 1)[1])
    assert wav == speech[0].read_bytes()
    text = page.read_text()
    assert "<title>test &lt;viewer&gt;</title>" in text
    assert "<td>APE</td>" in text


def test_the_page_loads_nothing_from_elsewhere(page):
    text = page.read_text()
    assert "<script src" not in text
    assert 'type="module"' not in text
    script = (viewer.PAGE_DIR / "viewer.js").read_text()
    assert "fetch(" not in script
    assert "import " not in script


def test_bad_panels_get_a_note_and_good_ones_none(page):
    files = viewer.embedded_data(page)["files"]
    notes = {m["name"]: m["notes"] for f in files for m in f["methods"]}
    assert notes["ground truth"] == notes["twenty"] == notes["sampled"] == []
    (short,) = notes["short"]
    assert "demo_001.bvh" in short
    assert "last pose holds" in short


def test_a_differing_skeleton_and_a_longer_motion_are_noted(truth, speech, tiny_bvh, tmp_path):
    other = load_motion(tiny_bvh)
    twice = np.concatenate([truth[0].positions] * 2)
    long = Motion(twice, truth[0].fps, truth[0].skeleton, name="long.bvh")
    page = viewer.build_viewer(tmp_path, audio=speech[0],
                               motions={"truth": truth[0], "tiny": other, "long": long})
    methods = viewer.embedded_data(page)["files"][0]["methods"]
    assert methods[0]["notes"] == []
    assert "tiny.bvh: skeleton differs from demo_000.bvh's (4 joints, not 16)" in \
        methods[1]["notes"][0]
    assert methods[2]["notes"][-1].endswith("cut at the end of the audio")


def test_what_cannot_be_drawn_is_a_one_line_error(truth, speech, tmp_path):
    no_skeleton = Motion(truth[0].positions, truth[0].fps, name="bare.npy")
    with pytest.raises(PipelineError, match=r"^bare.npy: no skeleton"):
        viewer.build_viewer(tmp_path, motions={"a": no_skeleton})
    broken = Motion(np.full_like(truth[0].positions, np.nan), 60.0, truth[0].skeleton,
                    name="nan.bvh")
    with pytest.raises(PipelineError, match="nan.bvh: NaN"):
        viewer.build_viewer(tmp_path, motions={"a": broken})
    with pytest.raises(PipelineError, match="missing.wav: no such file"):
        viewer.build_viewer(tmp_path, motions={"a": truth[0]}, audio=tmp_path / "missing.wav")
    with pytest.raises(PipelineError, match="no motion"):
        viewer.build_viewer(tmp_path, motions={})
    assert list(tmp_path.iterdir()) == []


def test_large_speech_is_copied_beside_the_page(truth, speech, tmp_path):
    page = viewer.build_viewer(tmp_path, motions={"truth": truth[0]}, audio=speech[0],
                               audio_inline_max=0)
    (file,) = viewer.embedded_data(page)["files"]
    assert file["audio"] == "audio/0_demo_000.wav"
    assert (tmp_path / file["audio"]).read_bytes() == speech[0].read_bytes()


def test_a_markdown_report_becomes_a_table_with_its_plots(tmp_path):
    from matplotlib.figure import Figure

    Figure(figsize=(1, 1)).savefig(tmp_path / "bars.png")
    text = ("Positions in cm.\n\n| method | APE |\n|---|---:|\n| ground truth | 0.000 |\n"
            "| `ours` | 1.5 |\n![bars](bars.png)\n")
    out = viewer.markdown_html(text, base=tmp_path)
    assert "<p>Positions in cm.</p>" in out
    assert "<th>method</th><th>APE</th>" in out
    assert "<td><code>ours</code></td><td>1.5</td>" in out
    assert '<img alt="bars" src="data:image/png;base64,' in out


def test_the_cli_takes_names_samples_and_a_report(truth, speech, demo, tmp_path, capsys):
    bvh = sorted((demo / "motion").glob("*.bvh"))
    (tmp_path / "report.md").write_text("| method | APE |\n|---|---:|\n| ours | 1.0 |\n")
    assert make_viewer.main([str(tmp_path / "out"), "--audio", str(speech[0]), "--motion",
                             f"ground truth={bvh[0]}", f"ours={bvh[0]}", f"ours={bvh[1]}",
                             str(bvh[1]), "--report", str(tmp_path / "report.md")]) == 0
    assert "3 method(s), 4 motion(s)" in capsys.readouterr().out
    assert "<td>ours</td><td>1.0</td>" in (tmp_path / "out" / "index.html").read_text()
    (file,) = viewer.embedded_data(tmp_path / "out" / "index.html")["files"]
    assert [(m["name"], len(m["samples"])) for m in file["methods"]] == [
        ("ground truth", 1), ("ours", 2), ("demo_001", 1)]
    with pytest.raises(PipelineError, match="an array needs the dataset's skeleton"):
        make_viewer.main([str(tmp_path / "x"), "--motion", f"a={tmp_path / 'a.npy'}"])


def test_the_cli_names_a_missing_file_and_writes_nothing(demo, tmp_path):
    bvh = sorted((demo / "motion").glob("*.bvh"))[0]
    missing = tmp_path / "nowhere.bvh"
    result = subprocess.run([sys.executable, str(REPO / "helpers" / "make_viewer.py"),
                             str(tmp_path / "out"), "--motion", f"truth={bvh}",
                             f"ours={missing}"], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {missing}: no such file"]
    assert not (tmp_path / "out").exists()


def test_a_real_genea_file_round_trips(genea_bvh, tmp_path):
    motion = load_motion(genea_bvh).crop(90)
    page = viewer.build_viewer(tmp_path, motions={"truth": motion})
    (method,) = viewer.embedded_data(page)["files"][0]["methods"]
    (sample,) = method["samples"]
    assert method["notes"] == []
    assert sample["hidden"] == [0]  # body_world, a world node
    assert motion.skeleton.names[sample["root"]] == "b_root"
    decoded = viewer.decode_positions(sample["positions"], 90, motion.skeleton.n_joints)
    np.testing.assert_allclose(decoded, motion.positions, atol=1e-4)


# --------------------------------------------------------------------------------------------
# Headless Chromium over the DevTools protocol


class Chromium:
    """A headless Chromium driven over ``--remote-debugging-pipe`` (standard library only)."""

    def __init__(self, executable: str, timeout: float = 30.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="viewer-chromium-")
        commands, self._send = os.pipe()
        self._receive, replies = os.pipe()

        def as_fds_3_and_4():  # in the child: where --remote-debugging-pipe looks
            a = fcntl.fcntl(commands, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(replies, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=as_fds_3_and_4, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands)
        os.close(replies)
        self._buffer, self._id, self.events = b"", 0, []

    def call(self, method: str, session: str | None = None, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._send, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") != self._id:
                    self.events.append(reply)
                elif "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                else:
                    return reply["result"]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._receive], [], [], left)[0]:
                raise TimeoutError(f"chromium did not answer {method}")
            chunk = os.read(self._receive, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium exited")
            self._buffer += chunk

    def open(self, url: str) -> Tab:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        return Tab(self, session, url)

    def close(self):
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.call("Browser.close")
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._send)
        os.close(self._receive)
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    """One page of :class:`Chromium`."""

    def __init__(self, browser: Chromium, session: str, url: str):
        self.browser, self.session = browser, session
        for domain in ("Page", "Runtime", "Network"):
            browser.call(f"{domain}.enable", session)
        browser.call("Page.navigate", session, url=url)
        self.wait("document.readyState === 'complete' && window.viewer")

    def js(self, expression: str):
        """The value of a JavaScript expression (promises awaited)."""
        result = self.browser.call("Runtime.evaluate", self.session, expression=expression,
                                   returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"])[:1000])
        return result["result"].get("value")

    def wait(self, condition: str, seconds: float = 20.0):
        """Poll a JavaScript condition until it holds (a hang guard, not a timing check)."""
        return self.js(f"""new Promise((done, fail) => {{
            const start = performance.now();
            (function poll() {{
              let value = false;
              try {{ value = ({condition}); }} catch (error) {{}}
              if (value) done(value);
              else if (performance.now() - start > {seconds * 1000}) fail(new Error(
                "timed out waiting for " + {json.dumps(condition)}));
              else setTimeout(poll, 20);
            }})();
          }})""")

    def state(self, frames: int = 2) -> dict:
        """``viewer.state()`` after ``frames`` more animation frames."""
        return self.js(f"viewer.afterFrames({frames}).then(() => viewer.state())")

    def screenshot(self) -> np.ndarray:
        """The page as RGB floats in [0, 1], ``(H, W, 3)``."""
        from matplotlib.image import imread

        png = self.browser.call("Page.captureScreenshot", self.session, format="png")["data"]
        return imread(io.BytesIO(base64.b64decode(png)), format="png")[..., :3]

    def mouse(self, kind: str, x: float, y: float, **more):
        self.browser.call("Input.dispatchMouseEvent", self.session, type=kind, x=x, y=y, **more)

    def events(self, method: str) -> list[dict]:
        return [e["params"] for e in self.browser.events if e.get("method") == method]


@pytest.fixture(scope="module")
def tab(page):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium, or set CHROMIUM)")
    browser = Chromium(CHROMIUM)
    try:
        yield browser.open(page.as_uri())
    finally:
        browser.close()


@pytest.fixture
def fresh(tab):
    """The tab back at its start: first file, paused at 0, side by side, everything shown."""
    tab.js("""(() => {
        viewer.pause();
        const file = document.getElementById('file');
        if (file.value !== '0') { file.value = '0'; file.dispatchEvent(new Event('change')); }
        const layout = document.getElementById('layout');
        layout.value = 'side'; layout.dispatchEvent(new Event('change'));
        for (const box of document.querySelectorAll('input.toggle'))
          if (!box.checked) box.click();
        viewer.seek(0);
      })()""")
    tab.wait("viewer.audio.readyState >= 1")
    return tab


def expected_frame(t: float, sample: dict) -> int:
    return min(sample["frames"] - 1, round(t * sample["fps"]))


def drawn_positions(data_file: dict, state: dict) -> dict[str, np.ndarray]:
    """The embedded root position of each panel's shown frame."""
    out = {}
    for method, panel in zip(data_file["methods"], state["panels"]):
        sample = method["samples"][panel["sample"]]
        positions = viewer.decode_positions(sample["positions"], sample["frames"],
                                            sample["joints"])
        out[method["name"]] = positions[panel["frame"], sample["root"]]
    return out


@needs_chromium
def test_webgl_runs_and_every_skeleton_is_in_the_scene(fresh, page):
    state = fresh.state()
    assert state["webgl"]
    assert state["three"] == "187"
    assert state["message"] == ""
    (data, _) = viewer.embedded_data(page)["files"]
    assert [p["name"] for p in state["panels"]] == [m["name"] for m in data["methods"]]
    for panel, method in zip(state["panels"], data["methods"]):
        sample = method["samples"][0]
        assert panel["inScene"]
        assert panel["visible"]
        assert panel["joints"] == sample["joints"]
        assert panel["bones"] == len(sample["bones"]) == sample["joints"] - 1
    exceptions = fresh.events("Runtime.exceptionThrown")
    assert exceptions == []
    urls = [e["request"]["url"] for e in fresh.events("Network.requestWillBeSent")]
    assert urls
    assert all(u.startswith(("file:", "data:")) for u in urls), urls


@needs_chromium
def test_the_shown_frame_follows_the_audio_clock(fresh, page):
    (data, _) = viewer.embedded_data(page)["files"]
    for t in (0.0, 1.234, 2.71, 4.96):
        fresh.js(f"viewer.audio.currentTime = {t}")  # the audio element, not the viewer's seek
        state = fresh.state()
        assert state["clock"] == "audio"
        assert state["time"] == pytest.approx(t, abs=1e-6)
        roots = drawn_positions(data, state)
        for panel, method in zip(state["panels"], data["methods"]):
            assert panel["frame"] == expected_frame(t, method["samples"][0]), (t, panel["name"])
            np.testing.assert_allclose(panel["drawnRoot"], roots[method["name"]], atol=1e-4)


@needs_chromium
def test_play_advances_with_the_audio_and_the_speed_is_its_rate(fresh):
    fresh.js("""(() => { const speed = document.getElementById('speed');
                 speed.value = '2'; speed.dispatchEvent(new Event('change')); })()""")
    fresh.js("document.getElementById('play').click()")
    assert fresh.state(1)["playing"]
    fresh.wait("viewer.state().time > 0.3")
    state = fresh.state()
    fresh.js("viewer.pause()")
    assert state["clock"] == "audio"
    assert state["speed"] == 2
    assert fresh.js("viewer.audio.playbackRate") == 2
    assert all(p["frame"] > 0 for p in state["panels"])
    fresh.js("""(() => { const speed = document.getElementById('speed');
                 speed.value = '1'; speed.dispatchEvent(new Event('change')); })()""")


@needs_chromium
def test_the_timeline_scrubs(fresh):
    fresh.js("""(() => { const bar = document.getElementById('timeline');
                 bar.value = '2.5'; bar.dispatchEvent(new Event('input'));
                 bar.dispatchEvent(new Event('change')); })()""")
    state = fresh.state()
    assert state["time"] == pytest.approx(2.5, abs=1 / 60)
    assert fresh.js("viewer.audio.currentTime") == pytest.approx(state["time"])


@needs_chromium
def test_a_toggle_hides_a_method_and_the_others_close_up(fresh):
    before = fresh.state()
    fresh.js("document.querySelector('li[data-method=\"twenty\"] input.toggle').click()")
    state = fresh.state()
    visible = {p["name"]: p["visible"] for p in state["panels"]}
    assert visible == {"ground truth": True, "twenty": False, "sampled": True}
    slots = {p["name"]: p["slot"] for p in state["panels"] if p["visible"]}
    assert slots["ground truth"] < slots["sampled"]
    assert slots["sampled"] < before["panels"][2]["slot"]


@needs_chromium
def test_overlay_puts_every_panel_in_one_place(fresh):
    fresh.js("""(() => { const layout = document.getElementById('layout');
                 layout.value = 'overlay'; layout.dispatchEvent(new Event('change')); })()""")
    state = fresh.state()
    assert state["layout"] == "overlay"
    assert {p["slot"] for p in state["panels"]} == {0}


@needs_chromium
def test_a_sample_is_chosen_from_its_list(fresh, page):
    (data, _) = viewer.embedded_data(page)["files"]
    fresh.js("viewer.seek(1.5)")
    fresh.js("""(() => { const s = document.querySelector('li[data-method="sampled"] select');
                 s.value = '1'; s.dispatchEvent(new Event('change')); })()""")
    state = fresh.state()
    sampled = state["panels"][2]
    assert (sampled["sample"], sampled["samples"]) == (1, 2)
    np.testing.assert_allclose(sampled["drawnRoot"], drawn_positions(data, state)["sampled"],
                               atol=1e-4)
    assert sampled["frame"] == expected_frame(1.5, data["methods"][2]["samples"][1])


@needs_chromium
def test_the_held_out_file_is_chosen_from_a_list_and_notes_show(fresh):
    fresh.js("""(() => { const file = document.getElementById('file');
                 file.value = '1'; file.dispatchEvent(new Event('change')); })()""")
    state = fresh.state()
    assert state["file"] == "demo_001"
    assert [p["name"] for p in state["panels"]] == ["ground truth", "short"]
    note = fresh.js("document.querySelector('li[data-method=\"short\"] .note').textContent")
    assert "last pose holds" in note
    fresh.js("viewer.seek(4.9)")
    short = fresh.state()["panels"][1]
    assert short["frame"] == short["nFrames"] - 1  # past its end: the last pose


@needs_chromium
def test_the_camera_orbits_and_zooms(fresh):
    x, y, w, h = fresh.state()["canvas"]
    start = fresh.state()["camera"]
    fresh.mouse("mousePressed", x + w / 2, y + h / 2, button="left", buttons=1, clickCount=1)
    fresh.mouse("mouseMoved", x + w / 2 + 120, y + h / 2 + 30, button="left", buttons=1)
    fresh.mouse("mouseReleased", x + w / 2 + 120, y + h / 2 + 30, button="left", clickCount=1)
    orbited = fresh.state()["camera"]
    assert orbited["azimuth"] != start["azimuth"]
    assert orbited["elevation"] > start["elevation"]
    fresh.mouse("mouseWheel", x + w / 2, y + h / 2, deltaX=0, deltaY=120)
    assert fresh.state()["camera"]["radius"] > orbited["radius"]
    fresh.js("document.getElementById('reset-view').click()")
    assert fresh.state()["camera"] == start


@needs_chromium
def test_a_screenshot_shows_each_skeleton(fresh):
    state = fresh.js("(viewer.seek(1.0), viewer.afterFrames(3).then(() => viewer.state()))")
    image = fresh.screenshot()
    background = np.array([int(state["background"][i:i + 2], 16) for i in (1, 3, 5)]) / 255
    x, y, w, h = state["canvas"]
    assert np.abs(image[int(y) + 4, int(x) + 4] - background).max() < 0.02
    for panel in state["panels"]:
        drawn = [p for p in panel["screen"] if p is not None]
        hits = [np.abs(image[int(py), int(px)] - background).max() > 0.06
                for px, py in drawn if x <= px < x + w and y <= py < y + h]
        assert len(hits) == len(drawn) == panel["joints"]  # every joint drawn, in the view
        assert all(hits), panel["name"]


@needs_chromium
def test_without_audio_the_page_keeps_its_own_clock(tab, truth, tmp_path):
    page = viewer.build_viewer(tmp_path, motions={"truth": truth[0], "twenty":
                                                  truth[0].resample(20.0)})
    silent = tab.browser.open(page.as_uri())
    assert silent.state()["clock"] == "internal"
    silent.js("viewer.play()")
    silent.wait("viewer.state().time > 0.3")
    state = silent.state()
    silent.js("viewer.pause()")
    assert state["playing"]
    for panel in state["panels"]:
        assert panel["frame"] == round(state["time"] * panel["fps"])
