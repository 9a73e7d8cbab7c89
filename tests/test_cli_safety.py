"""Red-team findings on names and terminal output: each reproduced, each refused."""

from __future__ import annotations

import shutil

import pytest
import yaml

from comet_zoo import publish
from comet_zoo.errors import CometError
from comet_zoo.hub.cards import read_card
from hub_support import comet, hub_env, make_card_source, make_model


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """toy@v1 in a file:// hub, its card summary carrying terminal escape sequences."""
    root = tmp_path_factory.mktemp("safety")
    source = make_card_source(root / "src", "toy")
    data = yaml.safe_load(source.read_text())
    data["summary"] = "plain \x1b[31mred\x1b]0;pwned\x07 [/x] [link=http://e.vil]click[/link]"
    source.write_text(yaml.safe_dump(data))
    mp = pytest.MonkeyPatch()
    mp.setenv("COMET_HOME", str(root / "publisher-home"))
    try:
        publish.push(make_model(root / "model"), "toy", "v1", hub=f"file://{root / 'hub'}", card_source=source)
    finally:
        mp.undo()
    return root


@pytest.mark.parametrize("alias", ["v01", "v0", "v0001", "v1\n", "v1 "])
def test_version_aliases_cannot_be_published(published, alias, tmp_path, monkeypatch):
    monkeypatch.setenv("COMET_HOME", str(tmp_path / "home"))
    with pytest.raises(CometError, match="invalid version"):
        publish.push(make_model(tmp_path / "m"), "toy", alias, hub=f"file://{published / 'hub'}")
    assert sorted(p.name for p in (published / "hub" / "toy").iterdir() if not p.name.startswith(".")) == ["v1"]


def test_a_name_with_a_trailing_newline_is_not_a_name(published, tmp_path):
    out = comet("pull", "toy\n", env=hub_env(tmp_path / "home", f"file://{published / 'hub'}"))
    assert out.returncode == 2 and "invalid model name" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("bad", ["../outside.png", "/dev/stdin", "exemplars/../../x.png"])
def test_card_exemplars_must_stay_inside_the_snapshot(published, tmp_path, bad):
    snapshot = tmp_path / "toy" / "v1"
    shutil.copytree(published / "hub" / "toy" / "v1", snapshot)
    card = snapshot / "README.md"
    head, _, body = card.read_text().partition("\n---\n")
    meta = yaml.safe_load(head.removeprefix("---\n"))
    meta["exemplars"] = [bad] + meta["exemplars"][1:]
    card.write_text("---\n" + yaml.safe_dump(meta) + "---\n" + body)
    with pytest.raises(CometError, match="refused file name"):
        read_card(snapshot)


def test_hub_text_reaches_the_terminal_as_text(published, tmp_path):
    env = hub_env(tmp_path / "home", f"file://{published / 'hub'}")
    shown = comet("card", "toy", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout      # no escape sequence gets through
    assert "[/x]" in shown.stdout and "[link=http://e.vil]" in shown.stdout  # markup shown, not obeyed


def test_markup_in_user_input_is_printed_not_parsed(published, tmp_path):
    out = comet("pull", "[/x]", env=hub_env(tmp_path / "home", f"file://{published / 'hub'}"))
    assert out.returncode == 2
    assert "MarkupError" not in out.stderr and "Traceback" not in out.stderr
    assert "[/x]" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_help_shows_the_whole_spec_grammar(tmp_path):
    out = comet("compose", "--help", env=hub_env(tmp_path / "home", "bundled"))
    assert "MODEL[@VERSION]:COMPONENT[@SOURCE][*WEIGHT]" in " ".join(out.stdout.split())


def test_version_is_eager_and_matches_the_installed_distribution(tmp_path):
    from importlib.metadata import version

    out = comet("--version", "compose", "--nonsense", env=hub_env(tmp_path / "home", "bundled"))
    assert out.returncode == 0 and out.stdout.strip() == f"comet-zoo {version('comet-zoo')}"


def test_a_typo_exits_2_and_a_corrupt_artifact_exits_1(published, tmp_path):
    broken = tmp_path / "hub"
    shutil.copytree(published / "hub", broken)
    weights = broken / "toy" / "v1" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF                                                       # one flipped bit-pattern
    weights.write_bytes(bytes(data))
    env = hub_env(tmp_path / "home", f"file://{broken}")
    typo = comet("pull", "tyo", env=env)
    assert typo.returncode == 2 and "Traceback" not in typo.stderr
    corrupt = comet("pull", "toy", env=env)
    assert corrupt.returncode == 1 and "does not match its sha256" in corrupt.stderr, corrupt.stderr
    assert len(corrupt.stderr.strip().splitlines()) == 1


def test_one_malformed_artifact_does_not_hide_the_others(published, tmp_path):
    hub_dir = tmp_path / "hub"
    shutil.copytree(published / "hub", hub_dir)
    (hub_dir / "bad" / "v1").mkdir(parents=True)
    (hub_dir / "bad" / "v1" / "SHA256SUMS").write_text("garbage\n")
    out = comet("list", env={**hub_env(tmp_path / "home", f"file://{hub_dir}"), "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert "toy" in out.stdout and "bad" in out.stdout


def test_a_comet_home_that_is_a_file_is_one_line(published, tmp_path):
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    out = comet("pull", "toy", env=hub_env(home, f"file://{published / 'hub'}"))
    assert out.returncode == 1 and "not a writable folder" in out.stderr and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("args, message", [
    (["-o", "{tmp}"], "is a folder"),
    (["-o", "/proc/x.png"], "cannot write /proc/x.png"),
    (["-o", "{tmp}/ok.png", "--gif", "/proc/x.gif"], "cannot write /proc/x.gif"),
    (["-o", "{tmp}/ok.png", "--batch", "100000"], "batch must be in 1..64"),
])
def test_outputs_are_checked_before_the_work(published, tmp_path, args, message):
    """A bad output path fails first, in one line, and leaves no other output behind."""
    env = hub_env(tmp_path / "home", f"file://{published / 'hub'}")
    out = comet("compose", "toy:obj0", *[a.format(tmp=tmp_path) for a in args], env=env)
    assert out.returncode in (1, 2) and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "ok.png").exists()


def test_eval_json_to_an_unwritable_place_fails_before_evaluating(published, tmp_path):
    env = hub_env(tmp_path / "home", f"file://{published / 'hub'}")
    out = comet("eval", "toy", "-d", "shapes", "--n", "4", "--json", "/proc/r.json", env=env)
    assert out.returncode == 1 and "cannot write /proc/r.json" in out.stderr and "Traceback" not in out.stderr
