"""`comet demo` driven in a real headless Chromium (Playwright): two concepts from two
models composed in the page give exactly `compose()`'s picture; a bad spec, a missing model
and an oversized upload each give one message in the page and no stack trace.

Needs the test extra (gradio, playwright) and Debian's chromium, which `.ci/run` installs."""

from __future__ import annotations

import functools
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("gradio", reason="the demo tests need the `demo` extra (gradio)")
pytest.importorskip("playwright", reason="the browser tests need playwright")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: `.ci/run` installs Debian's chromium")

SPEC_WORDS = st.sampled_from(["clevr:obj0", "clevr:obj9", "clevr", "nope:obj0", "clevr:obj0*x", "clevr:obj0@99",
                               "clevr:obj0@/dev/null", "bundled:clevr:obj1", "hf-hub:x", "./nothere:obj0", "::", "*"])

# As the machine's notes say: without the background-networking flags Chromium keeps
# dialling out of a closed network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo-home")
    port = _free_port()
    env = {**os.environ, "COMET_HOME": str(home), "COMET_HUB": "bundled", "HF_HUB_OFFLINE": "1",
           "COMET_CONFIG": str(home / "none.toml"), "GRADIO_ANALYTICS_ENABLED": "False"}
    # A generous time bound: on a loaded CPU, inferring the exemplars' latents alone can take a minute.
    proc = subprocess.Popen([sys.executable, "-m", "comet_zoo.cli.main", "demo", "--port", str(port), "--device", "cpu",
                             "--time-limit", "900"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"comet demo did not start: {proc.stdout.read()[-2000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(server, wait_until="networkidle")
    yield page
    page.close()


def _pick(page, row: int, choice: str) -> None:
    box = page.locator(f"#concept-{row} input")
    box.click()
    box.fill(choice)
    page.keyboard.press("Enter")


def _toasts(page) -> str:
    page.wait_for_selector(".toast-body", timeout=60_000)
    return "\n".join(t.inner_text() for t in page.locator(".toast-body").all())


def test_two_concepts_from_two_models_compose_to_the_cli_picture(page, monkeypatch, tmp_path):
    from PIL import Image

    from comet_zoo import compose

    _pick(page, 0, "clevr:obj2")
    _pick(page, 1, "clevr-lighting:light0")
    page.locator("#compose").click()
    page.wait_for_selector("#composed img", timeout=120_000)
    page.wait_for_selector("#descent-gif", timeout=30_000)
    shown = page.request.get(page.locator("#composed img").get_attribute("src")).body()
    with Image.open(io.BytesIO(shown)) as im:
        pixels = np.asarray(im.convert("RGB"))
    monkeypatch.setenv("COMET_HUB", "bundled")
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    expected = np.asarray(compose(["clevr:obj2", "clevr-lighting:light0"], seed=0, device="cpu"))
    assert pixels.shape == expected.shape == (128, 128, 3)
    assert np.array_equal(pixels, expected)                    # the page shows comet compose's pixels
    assert pixels.std() > 5                                    # not blank
    gif = page.locator("#descent-gif").get_attribute("src")
    assert gif.startswith("data:image/gif;base64,") and len(gif) > 1000
    if os.environ.get("COMET_SCREENSHOTS"):                    # docs/demo.png is made this way
        page.screenshot(path=os.path.join(os.environ["COMET_SCREENSHOTS"], "demo.png"), full_page=True)


@pytest.mark.parametrize("typed, message", [
    ("clevr:", "bad component spec 'clevr:'"),
    ("nope:obj0", "unknown model 'nope'"),
    ("clevr:obj9", "has no concept 'obj9'"),
])
def test_bad_input_is_one_message_in_the_page(page, typed, message):
    page.locator("#typed textarea").fill(typed)
    page.locator("#compose").click()
    text = _toasts(page)
    assert message in text and "Traceback" not in page.content()


def test_markup_and_bidi_in_a_spec_show_as_text_in_the_page(page):
    """The message quotes what was typed: shown as the characters typed, never as markup, and a
    bidi override is written as its escape."""
    page.locator("#typed textarea").fill("<b>bold</b><img\u202esrc=x>:obj0")
    page.locator("#compose").click()
    text = _toasts(page)
    assert "<b>bold</b>" in text and "\\u202e" in text and "\u202e" not in text
    assert page.locator(".toast-body b").count() == 0 and page.locator(".toast-body img").count() == 0


def test_a_typed_server_path_is_refused_in_the_page(page):
    page.locator("#typed textarea").fill("clevr:obj0@/etc/passwd")
    page.locator("#compose").click()
    assert "a typed source must be an exemplar index" in _toasts(page)


def test_an_oversized_upload_is_refused_in_the_page(page, tmp_path):
    from PIL import Image

    big = tmp_path / "big.png"
    noise = np.random.default_rng(0).integers(0, 255, (1800, 1800, 3), dtype=np.uint8)
    Image.fromarray(noise).save(big)
    assert big.stat().st_size > 8 * 1024 * 1024
    page.locator("#source-0 input[type=file]").set_input_files(str(big))
    assert "exceed the maximum allowed size" in _toasts(page)
    assert "Traceback" not in page.content()


BROKEN = """() => {
  const imgs = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  return {broken: imgs, links: links, images: document.images.length};
}"""


def test_gallery_pages_have_no_broken_images_or_links(browser, tmp_path, monkeypatch):
    from pathlib import Path
    from urllib.parse import urlparse

    from comet_zoo.gallery import build

    monkeypatch.setenv("COMET_HUB", "bundled")
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    index = build(tmp_path / "site")
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    try:
        for url in (index.as_uri(), (tmp_path / "site" / "clevr" / "index.html").as_uri()):
            page.goto(url, wait_until="load")
            found = page.evaluate(BROKEN)
            assert found["images"] >= 5 and found["broken"] == [], found
            for link in found["links"]:
                target = urlparse(link)
                if target.scheme == "file":
                    assert Path(target.path).is_file(), link
                else:
                    assert target.scheme == "https", link       # e.g. the paper's arXiv page
            if os.environ.get("COMET_SCREENSHOTS"):
                name = "gallery.png" if url.endswith("site/index.html") else "gallery_card.png"
                page.screenshot(path=os.path.join(os.environ["COMET_SCREENSHOTS"], name), full_page=False)
    finally:
        page.close()
    assert "<script" not in (tmp_path / "site" / "clevr" / "index.html").read_text()


def test_card_html_is_escaped(tmp_path):
    """A hostile card body's raw HTML and javascript: links are not rendered as such."""
    from comet_zoo.gallery import _markdown

    out = _markdown("<script>alert(1)</script>\n\n[x](javascript:alert(1)) ![y](exemplars/0.png)")
    assert "<script>" not in out and "href=\"javascript" not in out and 'src="exemplars/0.png"' in out


@functools.lru_cache(maxsize=1)
def _bundled_served():
    """The models the demo serves from the bundled hub, listed once for all fuzzed examples."""
    from comet_zoo.demo import Served

    with mock.patch.dict(os.environ, {"COMET_HUB": "bundled"}):
        return Served.from_config()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(typed=st.one_of(st.text(max_size=40), st.lists(SPEC_WORDS, max_size=3).map(" ".join)),
       seed=st.sampled_from([0, 1.5, -1, 2**70]), steps=st.sampled_from([0, 1, -2, 1e9]))
def test_fuzzed_page_input_gives_one_message_or_a_picture(one_thread, typed, seed, steps):
    """The page's compose action (the handler the button calls, with its error wrapper) on
    fuzzed specs and numbers: a picture, or one gr.Error line; nothing else escapes."""
    import gradio as gr

    from comet_zoo.demo import MAX_TERMS, _friendly, run_compose

    served = _bundled_served()
    action = _friendly(lambda typed, seed, steps: run_compose([(None, 1.0, None)] * MAX_TERMS, typed, seed, "gd",
                                                               steps, device="cpu", served=served))
    try:
        with mock.patch.dict(os.environ, {"COMET_HUB": "bundled"}):   # the session's COMET_HOME (conftest)
            picture, html = action(typed, seed, steps)
    except gr.Error as exc:
        assert str(exc.message).strip() and "\n" not in str(exc.message) and "Traceback" not in str(exc.message)
    else:
        assert picture.size[0] >= 128 and html.startswith("<img")


def test_decompose_an_uploaded_image_in_the_page(page):
    from PIL import Image

    from comet_zoo.hub.backends import bundled_root

    scene = bundled_root() / "clevr" / sorted(p.name for p in (bundled_root() / "clevr").iterdir())[-1] / "exemplars" / "0.png"
    page.get_by_role("tab", name="Decompose").click()
    page.locator("#d-image input[type=file]").set_input_files(str(scene))
    page.locator("#decompose").click()
    page.wait_for_selector("#parts img", timeout=120_000)
    shown = page.request.get(page.locator("#parts img").get_attribute("src")).body()
    with Image.open(io.BytesIO(shown)) as im:
        assert im.width > im.height > 96                  # two rows: components over their masks
        assert np.asarray(im.convert("RGB")).std() > 5
