"""The public demo holds against hostile requests: its functions and its HTTP API
endpoints (the app launched on 127.0.0.1) are driven with server paths, FIFOs, devices,
symbolic links, file:// hubs and model folders, oversized numbers, images and bodies,
and markup and bidi characters; no server path a request names is opened, every
request is bounded and says which bound it hit, and every message is escaped.

Which paths the process opens is watched with an audit hook (`sys.addaudithook`), which
sees every `open` of the process, the server's threads included. Tiny 16-px models in
file:// hubs keep it fast."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import struct
import sys
import threading
import zlib
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio", reason="the demo tests need the `demo` extra (gradio)")
httpx = pytest.importorskip("httpx")

from hub_support import free_port, make_model  # noqa: E402

ROWS = 4

# -- watching what the process opens -------------------------------------------------
_opened: list[str] | None = None


def _audit(event: str, args) -> None:
    if _opened is not None and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


class Opened:
    """Every path opened inside the block (any thread), as the code named it and resolved."""

    def __enter__(self):
        global _opened
        _opened = self.paths = []
        return self

    def __exit__(self, *exc):
        global _opened
        _opened = None

    def touched(self, *targets: Path) -> list[str]:
        wanted = {os.path.realpath(t) for t in targets} | {str(t) for t in targets}
        return [p for p in self.paths if p in wanted or os.path.realpath(p) in wanted]

    def under(self, folder: Path) -> list[str]:
        top = os.path.realpath(folder)
        return [p for p in self.paths if os.path.realpath(p).startswith(top + os.sep)]


# -- tiny hubs --------------------------------------------------------------------------
def _artifact(hub: Path, name: str, *, size: int = 16, **config) -> Path:
    """A tiny model with the bundled clevr card (concepts obj0..obj3, six exemplars) in `hub`."""
    import torch

    from comet_zoo.core.config import CometConfig
    from comet_zoo.core.model import COMET
    from comet_zoo.hub import manifest
    from comet_zoo.hub.backends import bundled_root

    folder = hub / name / "v1"
    if size == 16:
        make_model(folder)
    else:
        torch.manual_seed(0)
        COMET(CometConfig(image_size=size, num_components=4, latent_dim=8, width=8, num_blocks=2, stem_stride=2,
                          encoder="recurrent", pos_embed=[True] * 4, steps=2)).save_pretrained(folder)
    source = max((bundled_root() / "clevr").iterdir(), key=lambda p: int(p.name[1:]))   # the newest version
    shutil.copy(source / "README.md", folder / "README.md")
    shutil.copytree(source / "exemplars", folder / "exemplars")
    data = json.loads((folder / "config.json").read_text())
    data.update(config)
    (folder / "config.json").write_text(json.dumps(data))
    manifest.write(folder)
    return folder


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread for the module (the in-process server's workers too): on 2 shared
    cores, oversubscribed threads make each tiny step 20 times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A served file:// hub (toy, toy-slow: refine_steps 10000, toy-big: 256 px, toy-html:
    a hostile config key), a hub nobody configured, a model folder, canary files, and a
    Gradio upload folder of the test's own."""
    root = tmp_path_factory.mktemp("demo-security")
    hub, other = root / "hub", root / "other-hub"
    _artifact(hub, "toy")
    _artifact(hub, "toy-slow", refine_steps=10000)
    _artifact(hub, "toy-big", size=256)
    _artifact(hub, "toy-html", **{"<img src=http://127.0.0.1:9/x>\u202etxt": 1})
    _artifact(other, "toy2")
    folder = make_model(root / "folder-model")
    secret = root / "secret" / "canary.png"
    secret.parent.mkdir()
    shutil.copy(hub / "toy" / "v1" / "exemplars" / "0.png", secret)   # a real image: reading it would succeed
    fifo = root / "secret" / "fifo.png"
    os.mkfifo(fifo)
    mp = pytest.MonkeyPatch()
    mp.setenv("COMET_HOME", str(root / "home"))
    mp.setenv("COMET_HUB", f"file://{hub}")
    mp.setenv("GRADIO_TEMP_DIR", str(root / "gradio"))
    mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    (root / "gradio").mkdir()
    yield dict(root=root, hub=hub, other=other, folder=folder, secret=secret, fifo=fifo, uploads=root / "gradio")
    mp.undo()


@pytest.fixture(scope="module")
def served(world):
    from comet_zoo.demo import Served

    return Served.from_config(allow_local=True)


def _rows(first=None, weight=1.0, image=None):
    return [(first, weight, image)] + [(None, 1.0, None)] * (ROWS - 1)


def _message(action, *args) -> str:
    """The one line the page would show for a failing action."""
    from comet_zoo.demo import friendly

    with pytest.raises(gr.Error) as caught:
        friendly(action)(*args)
    return str(caught.value.message)


def _compose(served, typed="", rows=None, seed=0, steps=0, **kw):
    from comet_zoo.demo import run_compose

    return run_compose(rows or _rows(), typed, seed, "gd", steps, "cpu", served=served, **kw)


def _png(width=16, height=16) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _png_header_claiming(width: int, height: int) -> bytes:
    """A 1-pixel PNG whose header claims width × height: a decompression bomb's signature."""
    data = bytearray(_png(1, 1))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    return bytes(data)


# -- the typed box and the spec fields never reach the server's disk ---------------------
@pytest.mark.parametrize("source", ["secret", "fifo", "/dev/stdin", "/etc/passwd", "link", "~root/x.png"])
def test_a_typed_source_path_is_refused_unopened(world, served, source, tmp_path):
    target = {"secret": world["secret"], "fifo": world["fifo"]}.get(source, source)
    if source == "link":
        target = tmp_path / "link.png"
        target.symlink_to(world["secret"])
    with Opened() as opened:
        text = _message(lambda: _compose(served, f"toy:obj0@{target}"))
    assert "exemplar index" in text
    assert opened.touched(world["secret"], world["fifo"], Path("/dev/stdin"), Path("/etc/passwd")) == []


def test_the_refusal_says_nothing_about_which_paths_exist(world, served):
    existing = _message(lambda: _compose(served, f"toy:obj0@{world['secret']}"))
    missing = _message(lambda: _compose(served, f"toy:obj0@{world['secret'].parent / 'nothing.png'}"))
    assert existing.replace("canary", "X") == missing.replace("nothing", "X")


@pytest.mark.parametrize("spec", ["{other}/toy2:obj0", "file://{other}/toy2:obj0", "file://{hub}/toy:obj0",
                                  "{folder}:obj0", "./{rel}:obj0", "~/x:obj0", "~root/x:obj0",
                                  "hf-hub:someone/toy:obj0", "bundled:clevr:obj0"])
def test_model_folders_and_unserved_hubs_in_a_request_are_refused(world, spec):
    """Without --allow-local not even a configured file:// hub is served; a folder, an unconfigured
    file:// hub or another hub never is. Nothing of theirs is opened or pulled."""
    from comet_zoo.demo import Served

    local_off = Served.from_config(allow_local=False)
    spec = spec.format(other=world["other"], hub=world["hub"], folder=world["folder"],
                       rel=os.path.relpath(world["folder"]))
    with Opened() as opened:
        text = _message(lambda: _compose(local_off, spec))
    assert "not served" in text or "unknown model" in text
    assert opened.under(world["other"]) == [] and opened.under(world["folder"]) == [] \
        and opened.under(world["hub"]) == []
    pulled_from = [p.read_text() for p in (world["root"] / "home" / "models").glob("*/hub.json")]
    assert not any(str(world["other"]) in record for record in pulled_from)


def test_allow_local_serves_the_configured_file_hub_and_nothing_else(world, served):
    picture, html = _compose(served, "toy:obj1@2", steps=3)
    assert picture.size[0] >= 128 and 'id="descent-gif"' in html
    with Opened() as opened:
        text = _message(lambda: _compose(served, f"file://{world['other']}/toy2:obj0"))
    assert "not served" in text and opened.under(world["other"]) == []


def test_a_model_folder_is_served_only_when_the_operator_names_it(world, tmp_path):
    """`comet demo --model DIR`: that folder, by that text, and no other folder."""
    from comet_zoo.demo import Served

    named = Served.from_config(allow_local=False, folders=[str(world["folder"])])
    stranger = make_model(tmp_path / "stranger")
    image = {"url": "data:image/png;base64," + base64.b64encode(_png()).decode()}
    picture, _ = _compose(named, rows=_rows(f"{world['folder']}:0", 1.0, image), steps=2)
    assert picture.size[0] >= 128
    with Opened() as opened:
        text = _message(lambda: _compose(named, f"{stranger}:0"))
    assert "not served" in text and opened.under(stranger) == []


def test_the_menu_fields_are_checked_like_the_typed_box(world, served):
    """A concept row's value and a model field come from the client too (the API)."""
    from comet_zoo.demo import run_decompose

    with Opened() as opened:
        row = _message(lambda: _compose(served, rows=_rows(f"toy:obj0@{world['secret']}")))
        model = _message(lambda: run_decompose(str(world["folder"]), None, "cpu", served=served))
    assert "exemplar index" in row and "not served" in model
    assert opened.touched(world["secret"]) == [] and opened.under(world["folder"]) == []


# -- images: uploads only, checked before decoding --------------------------------------
def _in_uploads(world, name: str) -> Path:
    folder = world["uploads"] / os.urandom(8).hex()
    folder.mkdir()
    return folder / name


@pytest.mark.parametrize("kind", ["secret", "fifo-outside", "dev", "fifo-inside", "link-out", "oversize", "folder"])
def test_an_image_field_takes_only_uploads_and_opens_nothing_else(world, served, kind):
    from comet_zoo.demo import run_decompose

    if kind == "fifo-inside":
        path = _in_uploads(world, "scene.png")
        os.mkfifo(path)
    elif kind == "link-out":
        path = _in_uploads(world, "scene.png")
        path.symlink_to(world["secret"])
    elif kind == "oversize":
        path = _in_uploads(world, "scene.png")
        with open(path, "wb") as f:
            f.truncate(9 << 20)      # sparse: 9 MB on paper, over the 8 MB bound
    elif kind == "folder":
        path = _in_uploads(world, "scene.png")
        path.mkdir()
    else:
        path = {"secret": world["secret"], "fifo-outside": world["fifo"], "dev": Path("/dev/zero")}[kind]
    for value in (str(path), {"path": str(path), "meta": {"_type": "gradio.FileData"}}):
        with Opened() as opened:
            text = _message(lambda: run_decompose("toy", value, "cpu", served=served))
        assert ("larger than 8 MB" in text) if kind == "oversize" else ("not an uploaded image" in text)
        assert opened.touched(path, world["secret"], world["fifo"]) == []


def test_an_upload_in_the_upload_folder_is_used(world, served):
    from comet_zoo.demo import run_decompose

    path = _in_uploads(world, "scene.png")
    shutil.copy(world["hub"] / "toy" / "v1" / "exemplars" / "1.png", path)
    figure = run_decompose("toy", {"path": str(path)}, "cpu", served=served)
    assert figure.width > figure.height > 16
    picture, _ = _compose(served, rows=_rows("toy:obj0", 1.0, str(path)), steps=2)
    assert picture.size[0] >= 128


def test_a_data_url_over_the_limit_is_refused_before_decoding(served, monkeypatch):
    from comet_zoo.demo import run_decompose

    decoded = []
    real = base64.b64decode
    monkeypatch.setattr(base64, "b64decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    big = "data:image/png;base64," + base64.b64encode(b"\0" * (9 << 20)).decode()
    assert "larger than 8 MB" in _message(lambda: run_decompose("toy", {"url": big}, "cpu", served=served))
    assert decoded == []                                   # refused on its length alone
    bomb = "data:image/png;base64," + base64.b64encode(_png_header_claiming(30000, 30000)).decode()
    text = _message(lambda: run_decompose("toy", {"url": bomb}, "cpu", served=served))
    assert "pixels this demo accepts" in text              # refused on its header: 900 M pixels never decoded
    small = "data:image/png;base64," + base64.b64encode(_png()).decode()
    assert run_decompose("toy", {"url": small}, "cpu", served=served).width > 16


def test_an_uploaded_bomb_is_refused_by_its_header(world, served):
    from comet_zoo.demo import run_decompose

    path = _in_uploads(world, "bomb.png")
    path.write_bytes(_png_header_claiming(5000, 5000))
    assert "5000 × 5000 pixels, more than" in _message(lambda: run_decompose("toy", str(path), "cpu", served=served))


# -- bounds: each request says which one it hit -------------------------------------------
@pytest.mark.parametrize("typed, steps, seed, bound", [
    (" ".join(["toy:obj0"] * 200), 100, 0, "at most 1000 characters"),
    (" ".join(["toy:0"] * 100), 100, 0, "at most 8 concepts"),
    ("toy:obj0", 10_000, 0, "steps must be in 0..200"),
    ("toy:obj0", 0, 2**40, "seed must be in 0..2147483647"),
    ("toy:obj0", 1.5, 0, "steps must be a whole number"),
    ("toy:obj0 " * 400, 0, 0, "at most 1000 characters"),
    ("toy:obj0*1e308", 0, 0, "weight"),
])
def test_requests_beyond_a_bound_are_refused_naming_it(served, typed, steps, seed, bound):
    assert bound in _message(lambda: _compose(served, typed, steps=steps, seed=seed))


def test_a_row_weight_must_be_finite_and_bounded(served):
    for weight in (float("nan"), float("inf"), 1e308, "1", None):
        assert "weight of concept 1" in _message(lambda: _compose(served, rows=_rows("toy:obj0", weight)))


@pytest.mark.parametrize("model, bound", [("toy-slow", "refine_steps bound"), ("toy-big", "image_size bound")])
def test_a_hub_model_asking_for_unbounded_work_is_refused(served, model, bound):
    from comet_zoo.demo import run_decompose

    image = {"url": "data:image/png;base64," + base64.b64encode(_png()).decode()}
    assert bound in _message(lambda: _compose(served, f"{model}:obj0"))
    assert bound in _message(lambda: run_decompose(model, image, "cpu", served=served))


@pytest.fixture
def ticking_clock(monkeypatch):
    """The deadline's clock advances one second each time it is read: a deadline of n seconds
    is hit at the n-th step checked, whatever the machine's speed."""
    import itertools
    import types

    from comet_zoo.core import deadline

    ticks = itertools.count()
    monkeypatch.setattr(deadline, "time", types.SimpleNamespace(monotonic=lambda: float(next(ticks))))


def test_the_time_bound_stops_the_descent_and_says_so(served, ticking_clock):
    from comet_zoo.demo import Limits

    picture, html = _compose(served, "toy:obj0", steps=200, limits=Limits(seconds=6))
    assert "time bound: stopped after" in html and "of 200 steps (6 s)" in html
    assert picture.size[0] >= 128                          # the last step's picture


def test_the_time_bound_stops_refinement_and_decomposition(world, served, ticking_clock):
    from comet_zoo.demo import Limits, run_decompose

    _artifact(world["hub"], "toy-refine", refine_steps=30)   # within the refinement bound, but slow
    refining = type(served).from_config(allow_local=True)
    image = {"url": "data:image/png;base64," + base64.b64encode(_png(16, 16)).decode()}
    text = _message(lambda: _compose(refining, rows=_rows("toy-refine:obj0", 1.0, image), limits=Limits(seconds=5)))
    assert "time bound of 5 s before the descent began" in text
    text = _message(lambda: run_decompose("toy", image, "cpu", served=served, limits=Limits(seconds=5)))
    assert "time bound of 5 s" in text


def test_the_default_steps_are_capped_and_the_answer_says_so(served):
    from comet_zoo.demo import Limits

    _, html = _compose(served, "toy:obj0", steps=0, limits=Limits(steps=3))
    assert "steps bound: 3 steps (the models&#x27; default is 8)" in html


def test_workers_split_the_cpu_threads(monkeypatch):
    import torch

    from comet_zoo.demo import Limits, share_threads

    before = torch.get_num_threads()
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    try:
        share_threads(Limits(concurrency=4))
        assert torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)


# -- escaping ---------------------------------------------------------------------------------
def test_hub_text_in_an_error_is_escaped(served):
    text = _message(lambda: _compose(served, "toy-html:obj0"))
    assert "&lt;img src=http://127.0.0.1:9/x&gt;" in text and "<img" not in text
    assert "\u202e" not in text and "\\u202e" in text


@pytest.mark.parametrize("typed", ["<b>x</b>:obj0", "toy:<script>alert(1)</script>", "toy:obj0\u202e\u200b",
                                   "\u202etoy:obj0", "toy:obj0@<img src=x>"])
def test_typed_text_in_an_error_is_escaped(served, typed):
    text = _message(lambda: _compose(served, typed))
    assert "<" not in text and ">" not in text and not any(c in text for c in "\u202e\u200b")


# -- the HTTP API: the same checks on every endpoint ---------------------------------------------
@pytest.fixture(scope="module")
def api(world, served):
    from comet_zoo.demo import Limits, build_demo, launch_options

    limits = Limits(seconds=120)
    demo = build_demo("cpu", served=served, limits=limits)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_options(limits))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        yield client, demo
    demo.close()


def _call(client, endpoint: str, data: list) -> tuple[str, object]:
    """('complete', outputs) or ('error', message) of one call of an API endpoint."""
    started = client.post(f"/gradio_api/call/{endpoint}", json={"data": data})
    assert started.status_code == 200, started.text
    stream = client.get(f"/gradio_api/call/{endpoint}/{started.json()['event_id']}").text
    event = next(line.split(":", 1)[1].strip() for line in stream.splitlines() if line.startswith("event:"))
    payload = json.loads(next(line.split(":", 1)[1] for line in stream.splitlines() if line.startswith("data:")))
    return event, (payload.get("error") if event == "error" else payload)


def _compose_data(typed="", row=(None, 1.0, None), steps=2):
    return [*row] + [None, 1.0, None] * (ROWS - 1) + [typed, 0, "gd", steps]


def test_api_compose_works_and_refuses_paths(world, api):
    client, _ = api
    event, out = _call(client, "compose", _compose_data("toy:obj0"))
    assert event == "complete" and 'id="descent-gif"' in out[1]
    with Opened() as opened:
        for data in (_compose_data(f"toy:obj0@{world['secret']}"), _compose_data(f"file://{world['other']}/toy2:obj0"),
                     _compose_data(f"{world['folder']}:obj0"),
                     _compose_data(row=("toy:obj0", 1.0, {"path": str(world["secret"])})),
                     _compose_data(row=("toy:obj0", 1.0, str(world["fifo"]))),
                     _compose_data(row=("toy:obj0", 1.0, {"path": "/dev/stdin"}))):
            event, message = _call(client, "compose", data)
            assert event == "error"
            assert message is None or ("exemplar index" in message or "not served" in message
                                       or "not an uploaded image" in message), message
    assert opened.touched(world["secret"], world["fifo"], Path("/dev/stdin")) == []
    assert opened.under(world["other"]) == [] and opened.under(world["folder"]) == []


def test_api_decompose_and_recombine_refuse_paths_and_folders(world, api):
    client, _ = api
    png = {"url": "data:image/png;base64," + base64.b64encode(_png()).decode()}
    with Opened() as opened:
        cases = [("decompose", [str(world["folder"]), png]), ("decompose", ["toy", {"path": str(world["secret"])}]),
                 ("decompose", ["toy", str(world["fifo"])]),
                 ("recombine", ["toy", png, f"file://{world['other']}/toy2", png]),
                 ("recombine", ["toy", {"path": str(world["secret"])}, "toy", png])]
        for endpoint, data in cases:
            event, message = _call(client, endpoint, data)
            assert event == "error", (endpoint, data)
            assert message is None or "not served" in message or "not an uploaded image" in message, message
    assert opened.touched(world["secret"], world["fifo"]) == [] and opened.under(world["other"]) == []
    event, out = _call(client, "recombine", ["toy", png, "toy", png])
    assert event == "complete"


def test_api_bounds_and_escaping(api):
    client, _ = api
    event, message = _call(client, "compose", _compose_data(" ".join(["toy:0"] * 100), steps=100))
    assert event == "error" and "at most 8 concepts" in message
    event, message = _call(client, "compose", _compose_data("toy:obj0", steps=10_000))
    assert event == "error" and "0..200" in message
    event, message = _call(client, "compose", _compose_data("toy-slow:obj0"))
    assert event == "error" and "refine_steps bound" in message
    event, message = _call(client, "compose", _compose_data("toy-html:obj0"))
    assert event == "error" and "<img" not in message and "&lt;img" in message and "\u202e" not in message


def test_api_data_urls_and_bodies_over_the_limit_are_refused(api):
    client, _ = api
    over = {"url": "data:image/png;base64," + "A" * (int((8 << 20) * 4 / 3) + 400)}   # 8 MB + a little, in base64
    event, message = _call(client, "decompose", ["toy", over])
    assert event == "error" and "larger than 8 MB" in message
    body = client.post("/gradio_api/call/decompose", json={"data": ["toy", {"url": "data:image/png;base64," +
                                                                             "A" * (40 << 20)}]})
    assert body.status_code == 413


def test_the_api_is_the_three_checked_actions_and_serves_no_server_file(world, api):
    client, _ = api
    assert sorted(client.get("/gradio_api/info").json()["named_endpoints"]) == ["/compose", "/decompose", "/recombine"]
    with Opened() as opened:
        for path in (world["secret"], world["hub"] / "toy" / "v1" / "config.json", Path("/etc/passwd"),
                     Path(os.path.abspath("app.py"))):
            assert client.get(f"/gradio_api/file={path}").status_code in (403, 404)
    assert opened.touched(world["secret"], Path("/etc/passwd")) == [] and opened.under(world["hub"]) == []


def test_api_keeps_serving_while_one_request_runs(api, monkeypatch):
    """One request held inside its work; a second one is answered meanwhile; the queue is bounded."""
    from comet_zoo.composer import Composer

    client, demo = api
    entered, release = threading.Event(), threading.Event()
    original = Composer.from_specs.__func__

    def held(cls, specs, **kw):
        if any(getattr(s, "component", "") == "obj3" for s in specs):
            entered.set()
            release.wait(120)
        return original(cls, specs, **kw)

    monkeypatch.setattr(Composer, "from_specs", classmethod(held))
    first: list = []
    worker = threading.Thread(target=lambda: first.append(_call(client, "compose", _compose_data("toy:obj3"))))
    worker.start()
    try:
        assert entered.wait(120)
        event, _ = _call(client, "compose", _compose_data("toy:obj0"))
        assert event == "complete" and not release.is_set() and first == []
    finally:
        release.set()
        worker.join(120)
    assert first and first[0][0] == "complete"
    assert demo._queue.max_size == 16 and all(fn.concurrency_limit == 2 for fn in demo.fns.values())


def test_the_cli_checks_its_serving_options(monkeypatch, capsys):
    from comet_zoo.cli.main import main

    for args in (["--workers", "0"], ["--queue", "0"], ["--time-limit", "0"]):
        monkeypatch.setattr(sys, "argv", ["comet", "demo", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and "must be in" in err and len(err.strip().splitlines()) == 1, err
