"""Hostile input against the library and the CLI (the demo has its own tests): each test
names the defect it guards, reproduced as an attacker would try it."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from comet_zoo import gallery, hub
from comet_zoo.errors import CometError, CometRuntimeError
from comet_zoo.hub import manifest
from comet_zoo.hub.cards import load_source, read_card, read_card_or_default
from conftest import tiny_recipe
from hub_support import make_card_source, make_model

BIDI = "\u202e"   # RIGHT-TO-LEFT OVERRIDE: "txt.exe" shows as "exe.txt"


# -- helpers ---------------------------------------------------------------------------
def run_cli(*args: str) -> tuple[int, str, str]:
    """`comet ARGS` in this process (CliRunner's isolated streams), through the real entry
    point and its error handling: (exit code, stdout, stderr)."""
    from comet_zoo.cli.main import main

    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        old_argv, sys.argv = sys.argv, ["comet", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv = old_argv
        return code, out.getvalue().decode(), err.getvalue().decode()


def finishes(call, seconds: float = 120):
    """`call()`'s result, failing the test (not hanging the suite) if it never returns."""
    box = {}

    def run():
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still blocked after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def one_line(stderr: str) -> bool:
    return len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def edit_card(folder: Path, change) -> None:
    """Apply change(front matter dict, body) -> (front matter, body) to a snapshot's README."""
    head, _, body = (folder / "README.md").read_text().partition("\n---\n")
    meta, body = change(yaml.safe_load(head.removeprefix("---\n")), body)
    (folder / "README.md").write_text("---\n" + yaml.safe_dump(meta) + "---\n" + body)


def rehash(folder: Path) -> None:
    (folder / manifest.MANIFEST).unlink()
    manifest.write(folder)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """toy@v1 (4 components, 16 px) in a file:// hub, built by `publish.push`."""
    from comet_zoo import publish

    root = tmp_path_factory.mktemp("hardening")
    mp = pytest.MonkeyPatch()
    mp.setenv("COMET_HOME", str(root / "publisher-home"))
    mp.setenv("COMET_CONFIG", str(root / "no-config.toml"))
    try:
        publish.push(make_model(root / "model"), "toy", "v1", hub=f"file://{root / 'hub'}",
                     card_source=make_card_source(root / "src", "toy"))
    finally:
        mp.undo()
    return root


@pytest.fixture
def home(tmp_path, monkeypatch, published):
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COMET_HUB", f"file://{published / 'hub'}")
    monkeypatch.setenv("COMET_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "home"


@pytest.fixture
def folder(published, tmp_path):
    """A local model folder someone handed over: a copy of toy@v1's snapshot."""
    import shutil

    return Path(shutil.copytree(published / "hub" / "toy" / "v1", tmp_path / "handed-over"))


def hub_copy(published, tmp_path, damage) -> Path:
    """A file:// hub holding toy@v1 after `damage(snapshot)`, re-hashed (a hub that lies)."""
    import shutil

    root = tmp_path / "bad-hub"
    snapshot = Path(shutil.copytree(published / "hub" / "toy" / "v1", root / "toy" / "v1"))
    damage(snapshot)
    rehash(snapshot)
    return root


# --- text from users and hubs is neutralised once, at the edge ----------------------------
@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\ufeff", "\x1b", "\r", "\x07", "\u2028"])
def test_visible_writes_invisible_characters_as_escapes(char):
    from comet_zoo._text import visible, visible_html

    shown = visible(f"ab{char}cd")
    assert char not in shown and shown.startswith("ab\\") and shown.endswith("cd")
    assert char not in visible_html(f"<b>{char}</b>")


def test_visible_keeps_plain_text_and_layout_where_asked():
    from comet_zoo._text import visible, visible_html

    assert visible("clevr@v2:obj0 — é 猫") == "clevr@v2:obj0 — é 猫"
    assert visible("a\nb") == "a\\x0ab"
    assert visible("a\n\tb\r", multiline=True) == "a\n\tb\\x0d"
    assert visible_html('<img src="x" onerror=1>&') == "&lt;img src=&quot;x&quot; onerror=1&gt;&amp;"


def test_bidi_overrides_in_a_card_reach_neither_the_terminal_nor_the_gallery(home, folder, tmp_path):
    edit_card(folder, lambda meta, body: (meta, body.replace("a test model", f"run {BIDI}txt.exe{BIDI} now")))
    code, out, err = run_cli("card", str(folder))
    assert code == 0, err
    assert BIDI not in out and "\\u202e" in out
    index = gallery.build(tmp_path / "site", [str(folder)])
    pages = [index.read_text(), *(p.read_text() for p in index.parent.glob("*/index.html"))]
    assert all(BIDI not in page for page in pages) and any("\\u202e" in page for page in pages)


def test_bidi_overrides_in_a_reference_are_shown_as_escapes(home, published, tmp_path):
    import shutil

    odd = tmp_path / f"hub{BIDI}lave"                  # reads as "hubevаl" … reversed
    shutil.copytree(published / "hub", odd)
    code, out, err = run_cli("pull", f"file://{odd}/toy")
    assert code == 0, err
    assert BIDI not in out and "\\u202e" in out


# --- files are opened only when regular and bounded ---------------------------------------
def test_a_link_out_of_a_model_folder_is_never_published(home, folder, tmp_path, monkeypatch):
    secret = tmp_path / "id_ed25519"
    secret.write_text("PRIVATE KEY")
    picture = folder / "exemplars" / "1.png"
    picture.unlink()
    picture.symlink_to(secret)
    with pytest.raises(CometError, match="link to a file outside"):
        gallery.build(tmp_path / "site", [str(folder)])
    monkeypatch.setenv("BROWSER", "true")
    code, _, err = run_cli("card", str(folder), "--open")
    assert code == 2 and one_line(err) and "outside" in err
    published_files = [p for p in (tmp_path / "site").rglob("*") if p.is_file()] + \
                      [p for p in (home / "gallery").rglob("*") if p.is_file()]
    assert all(b"PRIVATE KEY" not in p.read_bytes() for p in published_files)


def test_a_fifo_exemplar_or_source_never_blocks(home, folder, tmp_path):
    from comet_zoo.composer import Composer

    os.unlink(folder / "exemplars" / "0.png")
    os.mkfifo(folder / "exemplars" / "0.png")
    with pytest.raises(CometError):
        finishes(lambda: Composer.from_specs([f"{folder}:obj0@0"], device="cpu"))
    fifo = tmp_path / "source.png"
    os.mkfifo(fifo)
    code, _, err = finishes(lambda: run_cli("compose", f"{folder}:obj1@{fifo}", "-o", str(tmp_path / "x.png")))
    assert code == 2 and one_line(err) and "refused" in err and not (tmp_path / "x.png").exists()


def test_a_huge_readme_is_refused_unread(home, folder):
    with open(folder / "README.md", "r+b") as f:
        f.truncate(300 << 20)                            # 300 MB, sparse: nothing is written
    with pytest.raises(CometError, match="refused"):
        hub.card(str(folder))
    with pytest.raises(CometError, match="refused"):
        read_card_or_default(folder, [True] * 4)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/stdin"])
def test_devices_are_never_opened_as_images(target):
    from comet_zoo.data.images import load_image

    with pytest.raises(CometError, match="not a regular file"):
        finishes(lambda: load_image(target, 16))


# --- output folders the tool does not own are never emptied --------------------------------
def test_gallery_into_the_current_folder_keeps_the_users_files(home, tmp_path, monkeypatch, published):
    site = tmp_path / "site"
    gallery.build(site, ["toy"])
    (site / "notes.txt").write_text("mine")
    monkeypatch.chdir(site)
    code, _, err = run_cli("gallery", "-o", ".", "toy")
    assert code == 0, err
    assert (site / "notes.txt").read_text() == "mine" and (site / "index.html").is_file()
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    (elsewhere / "thesis.tex").write_text("mine")
    monkeypatch.chdir(elsewhere)
    code, _, err = run_cli("gallery", "-o", ".", "toy")
    assert code == 2 and one_line(err) and "did not write" in err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["thesis.tex"]


def test_rebuilding_a_gallery_replaces_only_its_own_files(home, tmp_path, published):
    site = tmp_path / "site"
    gallery.build(site, ["toy"])
    (site / "notes.txt").write_text("mine")
    (site / "toy" / "draft.md").write_text("mine too")
    (site / ".comet-gallery-staging-killed").mkdir()        # a build killed before it cleaned up
    gallery.build(site, ["toy"])
    assert (site / "notes.txt").read_text() == "mine" and (site / "toy" / "draft.md").read_text() == "mine too"
    assert not list(site.glob(".comet-gallery-staging-*"))
    (site / "toy" / "index.html").unlink()
    (site / "toy" / "index.html").write_text("my own page")  # the user's file where the gallery writes
    recorded = json.loads((site / gallery.MARKER).read_text())["files"]
    (site / gallery.MARKER).write_text(json.dumps({"files": [f for f in recorded if f != "toy/index.html"]}))
    with pytest.raises(CometError, match="in the way"):
        gallery.build(site, ["toy"])
    assert (site / "toy" / "index.html").read_text() == "my own page"


def test_gallery_pages_and_folders_are_world_readable(home, tmp_path):
    old = os.umask(0o022)
    try:
        index = gallery.build(tmp_path / "site", ["toy"])
    finally:
        os.umask(old)
    for path in (index.parent, index.parent / "toy", index, index.parent / "toy" / "index.html"):
        assert path.stat().st_mode & 0o005 == (0o005 if path.is_dir() else 0o004), path


# --- read-only and full targets: one line, nothing left behind ------------------------------
def test_read_only_targets_are_one_line_errors(home, folder, tmp_path, monkeypatch):
    for args in (["gallery", "-o", "/proc/comet-site", "toy"],
                 ["train", "quickstart", "-o", "/proc/comet-run", "--steps", "1"]):
        code, _, err = run_cli(*args)
        assert code == 1 and one_line(err) and "/proc/comet-" in err, (args, err)
    monkeypatch.setenv("COMET_HOME", "/proc/comet-home")
    code, _, err = run_cli("card", str(folder), "--open")
    assert code == 1 and one_line(err) and "/proc/comet-home" in err
    code, _, err = run_cli("push", str(make_model(tmp_path / "m")), "--as", "toy", "--version", "v7",
                           "--hub", f"file://{tmp_path / 'hub'}", "--card", str(make_card_source(tmp_path / "src", "toy")))
    assert code == 1 and one_line(err) and "/proc/comet-home" in err


def _full_disk():
    """In the child: no file may grow past 1000 bytes (as on a full disk: EFBIG, not ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))


@pytest.mark.parametrize("command", ["gallery", "push"])
def test_a_full_disk_is_one_line_and_leaves_no_temporary_folder(home, published, tmp_path, command):
    out = tmp_path / "out"
    hub.resolve("toy")                                   # in the cache: the build itself meets the full disk
    args = {"gallery": ["gallery", "-o", str(out), "toy"],
            "push": ["push", str(make_model(tmp_path / "m")), "--as", "toy", "--version", "v9",
                     "--hub", f"file://{out}", "--card", str(make_card_source(tmp_path / "src", "toy"))]}[command]
    done = subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", *args], capture_output=True, text=True,
                          preexec_fn=_full_disk, timeout=300, env={**os.environ})
    assert done.returncode == 1 and one_line(done.stderr), done.stderr
    leftovers = [p for p in (*out.rglob(".*"), *(home / "push-tmp").glob("*")) if p.name != gallery.MARKER] \
        if out.exists() or (home / "push-tmp").exists() else []
    assert leftovers == []


def test_a_reference_too_long_for_a_file_name_is_one_line(home, tmp_path):
    for args in (["card", "./" + "a" * 300], ["pull", "file:///" + "d" * 300 + "/toy"],
                 ["compose", "toy:obj0@" + "x" * 300 + ".png", "-o", str(tmp_path / "x.png")],
                 ["gallery", "-o", str(tmp_path / "site"), "./" + "b" * 5000]):
        code, _, err = run_cli(*args)
        assert code == 2 and one_line(err) and "too long" in err, (args[0], err)


# --- validation at the edge -----------------------------------------------------------------
def _extra_concept(snapshot: Path) -> None:
    def add(meta, body):
        meta["concepts"].append({"name": "obj9", "index": 4, "kind": "local", "description": "x",
                                 "exemplar": meta["exemplars"][0]})
        return meta, body
    edit_card(snapshot, add)


def _nan_weights(snapshot: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(snapshot / "model.safetensors"))
    save_file({k: torch.full_like(v, float("nan")) for k, v in state.items()}, str(snapshot / "model.safetensors"))


def _wrong_shapes(snapshot: Path) -> None:
    config = json.loads((snapshot / "config.json").read_text())
    (snapshot / "config.json").write_text(json.dumps({**config, "width": 12}))


def _unknown_encoder(snapshot: Path) -> None:
    config = json.loads((snapshot / "config.json").read_text())
    (snapshot / "config.json").write_text(json.dumps({**config, "encoder": "no-such-encoder"}))


@pytest.mark.parametrize("damage, message", [(_extra_concept, "obj9 is component 4"), (_nan_weights, "NaN"),
                                             (_wrong_shapes, "shape"), (_unknown_encoder, "no-such-encoder")])
def test_pull_reports_success_only_for_an_artifact_that_loads(home, published, tmp_path, monkeypatch, damage, message):
    bad = hub_copy(published, tmp_path, damage)
    monkeypatch.setenv("COMET_HUB", f"file://{bad}")
    with pytest.raises(CometRuntimeError, match=message):
        hub.resolve("toy")
    assert not [p for p in (home / "models").rglob("v1") if p.is_dir()]   # nothing cached


def test_a_card_with_more_concepts_than_components_is_refused_at_load(home, folder):
    from comet_zoo.composer import Composer

    _extra_concept(folder)
    with pytest.raises(CometError, match="obj9 is component 4"):
        read_card_or_default(folder, [True] * 4)
    with pytest.raises(CometError, match="4 components"):
        Composer.from_specs([f"{folder}:obj9"], device="cpu")


def test_a_card_whose_data_set_is_a_list_does_not_break_the_gallery(home, folder, tmp_path):
    def listed(meta, body):
        meta["comet_dataset"] = ["shapes", "clevr"]
        meta["eval_results"] = "not a list"
        return meta, body
    edit_card(folder, listed)
    assert read_card(folder).dataset == "shapes"
    assert "shapes" in gallery.build(tmp_path / "site", [str(folder)]).read_text()


@pytest.mark.parametrize("key, value", [("dataset", ["shapes", "clevr"]), ("exemplars", "abc"), ("summary", 123),
                                        ("title", ["x"]), ("tags", "one,two"), ("exemplars", True),
                                        ("figures", [{"title": 3, "path": "x.png"}]), ("concepts", ["obj0"])])
def test_card_source_fields_are_type_checked(tmp_path, key, value):
    source = make_card_source(tmp_path, "toy")
    data = yaml.safe_load(source.read_text())
    source.write_text(yaml.safe_dump({**data, key: value}))
    with pytest.raises(CometError, match=key):
        load_source(source)


@pytest.mark.parametrize("weight", ["1e308", "nan", "-inf", "101", "-1e5"])
def test_weights_are_finite_and_bounded_on_every_path(home, tmp_path, weight):
    from comet_zoo.composer import Composer, Term
    from comet_zoo.hub.names import Ref
    from comet_zoo.spec import ComponentSpec, parse_spec

    with pytest.raises(CometError, match="weight"):
        parse_spec(f"toy:obj0*{weight}")
    with pytest.raises(CometError, match="weight"):
        ComponentSpec(Ref("toy"), "obj0", None, float(weight))
    model = hub.load_model("toy")
    with pytest.raises(CometError, match="weight"):
        Composer({"toy": model}, [Term("toy", 0, torch.zeros(8), float(weight))])
    code, _, err = run_cli("compose", f"toy:obj0*{weight}", "-o", str(tmp_path / "x.png"))
    assert code == 2 and one_line(err) and "weight" in err


def test_python_api_errors_are_comet_errors(home, folder):
    from comet_zoo import compose
    from comet_zoo.composer import Composer

    assert hub.load_model(Path(folder)).config.num_components == 4       # a Path is a model folder
    assert hub.card(Path(folder)).name == "toy"
    for bad in (None, 5, [None], [3.5]):
        with pytest.raises(CometError):
            compose(bad)
    composer = Composer.from_specs([f"{folder}:obj0"], device="cpu")
    for options in ({"steps": 2.5}, {"steps": "3"}, {"seed": -1}, {"seed": True}, {"seed": 2**64},
                    {"batch": 1.0}, {"batch": 65}, {"sampler": ["gd"]}):
        with pytest.raises(CometError):
            composer.sample(**options)
    with pytest.raises(CometError):
        composer.picture(scale=2.0)
    with pytest.raises(CometError):
        Composer.from_specs([f"{folder}:obj0"], size=16.5, device="cpu")


# --- network time-outs -------------------------------------------------------------------------
@pytest.fixture
def silent_hub(monkeypatch):
    """An hf:// hub whose server accepts connections and never answers (a frozen mirror)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("COMET_HUB_TIMEOUT", "1,1")
    monkeypatch.setenv("COMET_HUB_GRACE", "0.2")
    yield "hf://frozen"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()
    # The hub calls that bounded() gave up on run on in their threads, retrying against the
    # closed server; on a connection error huggingface_hub closes its shared client, which
    # would break another test's request mid-read. They end here; later tests get a fresh
    # client (this test's 1-second time-outs were set on the shared one).
    from huggingface_hub import close_session

    for worker in threading.enumerate():
        if worker.name.startswith("comet-hub"):
            worker.join(120)
    close_session()


def test_a_silent_hub_never_holds_up_a_local_model_or_hangs_a_pull(home, published, silent_hub, monkeypatch, caplog):
    monkeypatch.setenv("COMET_HUB", f"file://{published / 'hub'},{silent_hub}")
    assert finishes(lambda: hub.resolve("toy")).name == "v1"        # the local hub's, without the silent one
    assert "did not answer" in caplog.text
    with pytest.raises(CometRuntimeError, match="did not answer"):
        finishes(lambda: hub.resolve("hf-hub:frozen/toy"))
    with pytest.raises(CometRuntimeError, match="did not answer"):
        finishes(lambda: hub.resolve("elsewhere"))                   # only the silent hub could have it
    code, out, err = finishes(lambda: run_cli("list"))
    assert code == 0 and "toy" in out


def test_hub_timeout_setting_is_checked(home, monkeypatch):
    from comet_zoo.hub.backends import hub_timeouts

    monkeypatch.setenv("COMET_HUB_TIMEOUT", "3,7")
    assert hub_timeouts() == (3.0, 7.0)
    monkeypatch.setenv("COMET_HUB_TIMEOUT", "soon")
    with pytest.raises(CometError, match="COMET_HUB_TIMEOUT"):
        hub_timeouts()


# --- one run folder, one writer -------------------------------------------------------------------
def test_a_second_training_in_one_run_folder_is_refused_naming_the_holder(tmp_path):
    from comet_zoo.train.trainer import Trainer

    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom comet_zoo.train.lock import RunLock\n"
         f"lock = RunLock({str(run)!r}).acquire(); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CometError, match=f"in use by another training \\(pid {holder.pid} on "):
            Trainer(tiny_recipe(train_size=16), run)
        with pytest.raises(CometError, match="in use"):
            Trainer(tiny_recipe(train_size=16), run, resume=True)
        code, _, err = run_cli("train", "quickstart", "-o", str(run), "--resume")
        assert code == 2 and one_line(err) and f"pid {holder.pid}" in err
    finally:
        holder.stdin.close()
        holder.wait(30)
    trainer = Trainer(tiny_recipe(train_size=16), run)   # the holder is gone: the folder is free again
    trainer.close()


# --- no refinement in training samples -----------------------------------------------------------
def test_checkpoint_samples_do_not_refine_latents(tmp_path, one_thread):
    from comet_zoo.train.trainer import Trainer

    pictures = []
    for refine_steps in (0, 200):
        recipe = tiny_recipe(train_size=16)
        recipe.model.refine_steps = refine_steps
        trainer = Trainer(recipe, tmp_path / f"refine-{refine_steps}")
        pictures.append(trainer.save_samples().read_bytes())
        trainer.close()
    assert pictures[0] == pictures[1]
