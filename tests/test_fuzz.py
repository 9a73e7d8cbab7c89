"""The project fuzzes itself: property tests (hypothesis) for every parser of outside text
and for the CLI as a whole. Each property: a value comes back, or a CometError does;
never another exception, never a hang. Small example counts keep the module well under
a minute; `HYPOTHESIS_PROFILE=long` runs many more examples."""

from __future__ import annotations

import json
import math
import os
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comet_zoo.errors import CometError

settings.register_profile("default", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
fast = settings.get_profile(PROFILE)

# No subnormal floats: training (torch.set_flush_denormal) may have switched them off in
# this process, and hypothesis refuses to draw them then.
FLOATS = st.floats(allow_subnormal=False)

# Text with the characters that break parsers: separators of the grammars, path
# characters, control and Unicode format characters (bidi, zero-width), surrogates, NUL.
TRICKY = ":@*/.~-_ \t\n\r\x00\x1b\u202e\u2066\u200b\ufeff²٣"
texts = st.text(alphabet=st.sampled_from(string.ascii_letters + string.digits + TRICKY), max_size=40) | st.text(max_size=40)
NAMES = st.sampled_from(["clevr", "toy", "a", "x" * 65, "Clevr", "-x", "clevr-toy", ""])
VERSIONS = st.sampled_from(["", "@v1", "@v01", "@v0", "@v", "@v1234567", "@latest", "@v2\n"])
HUBS = st.sampled_from(["", "bundled:", "hf-hub:org/", "hf-hub:/", "file:///srv/", "file://rel/", "./runs/", "~nobody/",
                        "/" + "d" * 300 + "/"])
WEIGHTS = st.sampled_from(["", "*1", "*-0.5", "*1e308", "*nan", "*inf", "*abc", "*", "*2*3", "*100", "*-100.0001"])
SOURCES = st.sampled_from(["", "@0", "@3", "@scene.png", "@", "@/dev/stdin", "@" + "p" * 300, "@a@b"])
COMPONENTS = st.sampled_from(["obj0", "light0", "0", "63", "99999", "", "obj 0", "ob\u202ej", "_x", "9a"])
refs = st.builds(lambda h, n, v: h + n + v, HUBS, NAMES, VERSIONS) | texts
specs = st.builds(lambda r, c, s, w: f"{r}:{c}{s}{w}", refs, COMPONENTS, SOURCES, WEIGHTS) | texts


# -- the reference and spec grammars ----------------------------------------------------
@fast
@given(refs)
def test_reference_parser(text):
    from comet_zoo.hub.names import Ref, parse_ref

    try:
        ref = parse_ref(text)
    except CometError:
        return
    assert isinstance(ref, Ref)
    if ref.path is None:                     # a hub reference prints as text that parses back to itself
        assert parse_ref(str(ref)) == ref


@fast
@given(specs)
def test_spec_parser(text):
    from comet_zoo.spec import MAX_WEIGHT, ComponentSpec, parse_spec

    try:
        spec = parse_spec(text)
    except CometError:
        return
    assert isinstance(spec, ComponentSpec)
    assert math.isfinite(spec.weight) and abs(spec.weight) <= MAX_WEIGHT


@fast
@given(st.one_of(st.none(), st.integers(), FLOATS, st.text(max_size=8), st.lists(st.integers(), max_size=2)),
       st.one_of(st.none(), st.text(max_size=8), st.integers()), st.one_of(FLOATS, st.integers(), st.text(max_size=4)))
def test_component_specs_built_in_python(component, source, weight):
    from comet_zoo.hub.names import Ref
    from comet_zoo.spec import ComponentSpec

    try:
        ComponentSpec(Ref("toy"), component, source, weight)
    except CometError:
        pass


# -- cards, card sources and recipes: random files ------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | FLOATS | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
CARD_KEYS = ["concepts", "exemplars", "comet_dataset", "datasets", "model_name", "version", "training", "model-index",
             "eval_results", "license", "tags", "segmentation_readout"]


def _concept(data):
    return st.fixed_dictionaries({}, optional={"name": st.sampled_from(["obj0", "obj1", "Obj", "light0", ""]) | json_values,
                                               "index": st.integers(-1, 5) | json_values,
                                               "kind": st.sampled_from(["local", "global", "x"]),
                                               "exemplar": st.sampled_from(["exemplars/0.png", "../x.png", 0, 7]) | json_values,
                                               "description": json_values})


front_matter = st.dictionaries(st.sampled_from(CARD_KEYS) | st.text(max_size=6),
                               json_values | st.lists(_concept(None), max_size=5), max_size=6)


@fast
@given(front_matter, st.text(max_size=200), st.sampled_from(["yaml", "raw", "bytes"]), st.binary(max_size=64))
def test_card_reader(tmp_path_factory, meta, body, form, noise):
    from comet_zoo.hub.cards import CardInfo, read_card, read_card_or_default

    folder = tmp_path_factory.mktemp("card")
    readme = folder / "README.md"
    if form == "yaml":
        try:
            head = yaml.safe_dump(meta, allow_unicode=True)
        except yaml.YAMLError:
            head = "{}"
        readme.write_text(f"---\n{head}---\n{body}", encoding="utf-8", errors="surrogatepass")
    elif form == "raw":
        readme.write_text(f"---\nconcepts:\n{body}\n---\n", encoding="utf-8", errors="surrogatepass")
    else:
        readme.write_bytes(b"---\nconcepts:\n" + noise)
    for read in (lambda: read_card(folder), lambda: read_card_or_default(folder, [True, False])):
        try:
            info = read()
        except CometError:
            continue
        assert isinstance(info, CardInfo)
        assert info.dataset is None or isinstance(info.dataset, str)
        assert all(isinstance(v, float) for v in info.metrics.values()) and isinstance(info.training, dict)
        assert isinstance(info.title, str) and all(isinstance(e, str) for e in info.exemplars)


SOURCE_KEYS = ["name", "title", "summary", "recipe", "dataset", "license", "tags", "note", "exemplars", "concepts",
               "figures"]


@fast
@given(st.dictionaries(st.sampled_from(SOURCE_KEYS) | st.text(max_size=6), json_values, max_size=6) | json_values)
def test_card_source_reader(tmp_path_factory, data):
    from comet_zoo.hub.cards import SOURCE_TYPES, load_source

    path = tmp_path_factory.mktemp("source") / "toy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True) if _dumpable(data) else "{", encoding="utf-8",
                    errors="surrogatepass")
    try:
        source = load_source(path)
    except CometError:
        return
    for key, (kinds, _) in SOURCE_TYPES.items():   # what comes back is typed as the card renderer needs
        assert source.get(key) is None or isinstance(source[key], kinds)


MODEL_KEYS = ["image_size", "num_components", "latent_dim", "width", "num_blocks", "stem", "stem_stride", "encoder",
              "energy", "pos_embed", "steps", "step_size", "refine_steps", "refine_lr", "kind"]
TRAIN_KEYS = ["dataset", "dataset_options", "train_size", "batch_size", "lr", "total_steps", "grad_steps", "sampler",
              "seed", "init_from", "precision", "micro_batch", "curriculum_steps", "decay_steps", "min_lr"]
recipes = st.fixed_dictionaries({}, optional={
    "model": st.dictionaries(st.sampled_from(MODEL_KEYS), json_values | st.integers(0, 300), max_size=5) | json_values,
    "train": st.dictionaries(st.sampled_from(TRAIN_KEYS), json_values | st.integers(-1, 100), max_size=5) | json_values,
    "name": json_values}) | json_values


@fast
@given(recipes, st.sampled_from([".json", ".yaml", ".txt"]), st.binary(max_size=32))
def test_recipe_loader(tmp_path_factory, data, suffix, noise):
    from comet_zoo.train.recipe import Recipe

    folder = tmp_path_factory.mktemp("recipe")
    path = folder / f"r{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8", errors="surrogatepass")
    elif suffix == ".yaml":
        path.write_text(yaml.safe_dump(data) if _dumpable(data) else "[", encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(noise)
    try:
        recipe = Recipe.load(path)
    except CometError:
        return
    assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))).to_dict() == recipe.to_dict()


def _dumpable(data) -> bool:
    try:
        yaml.safe_dump(data)
        return True
    except (yaml.YAMLError, UnicodeEncodeError):
        return False


# -- the CLI: random argv and random files --------------------------------------------------
@pytest.fixture(scope="module")
def cli_world(tmp_path_factory):
    """A tiny model in a file:// hub, a model folder, and files of every kind to point at."""
    from comet_zoo import publish
    from hub_support import make_card_source, make_model

    root = tmp_path_factory.mktemp("cli-fuzz")
    mp = pytest.MonkeyPatch()
    mp.setenv("COMET_HOME", str(root / "home"))
    mp.setenv("COMET_CONFIG", str(root / "no-config.toml"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("BROWSER", "true")
    model = make_model(root / "model", components=2, pos_embed=[True, False])
    publish.push(model, "toy", "v1", hub=f"file://{root / 'hub'}",
                 card_source=make_card_source(root / "src", "toy", components=2))
    mp.setenv("COMET_HUB", f"file://{root / 'hub'}")
    files = root / "files"
    files.mkdir()
    (files / "empty.json").write_text("")
    (files / "list.yaml").write_text("- 1\n- 2\n")
    (files / "recipe.json").write_text('{"model": {"image_size": 1e9}, "train": []}')
    (files / "noise.png").write_bytes(os.urandom(64))
    (files / "text.png").write_text("not a picture")
    os.mkfifo(files / "fifo.png")
    (files / "link.png").symlink_to("/etc/hostname")
    mp.chdir(root)
    yield root
    mp.undo()


COMMANDS = ["pull", "list", "card", "push", "rm", "gallery", "compose", "decompose", "recombine", "eval --n 2", "train",
            "plugins", "datasets", "datasets list", "datasets preview", "card --open", "list --versions"]
FLAGS = ["-o", "--out", "--steps", "--seed", "--batch", "--size", "--scale", "--as", "--version", "--hub", "--card",
         "--eval", "--n", "-d", "--device", "--sampler", "--gif", "--resume", "--overwrite", "--time-limit", "--help",
         "--fp16", "--json", "--refine", "--bf16", "--data"]


def _tokens(world: Path):
    files = [str(world / "files" / name) for name in ("empty.json", "list.yaml", "recipe.json", "noise.png",
                                                       "text.png", "fifo.png", "link.png", "missing.png")]
    # (never a device node as an output: as root, an atomic write would replace it)
    outputs = ["out.png", "out.gif", "/proc/x.png", "site", ".", "o" * 300 + ".png", "report.json"]
    values = ["toy", "toy@v1", "toy@v9", "toy:obj0", "toy:0@0*-1", "toy:obj0*1e308", "toy:global0@9",
              f"toy:obj0@{world}/files/fifo.png", "toy:obj0@/dev/stdin", "bundled:nope", "hf-hub:o/toy",
              str(world / "model"), f"{world / 'model'}:obj0", "0", "-1", "1.5", "2147483648", "1e309", "nan",
              "v1", "v01", "file:///proc", "shapes", "cpu", "cuda:7", "tpu", "gd", "anneal", "x"]
    safe = texts.filter(lambda t: not t.startswith(("--install", "--show-c")))
    return st.sampled_from(FLAGS) | st.sampled_from(files + outputs + values) | safe


@settings(fast, max_examples=int(os.environ.get("FUZZ_CLI_EXAMPLES", 40)))
@given(data=st.data())
def test_cli_random_argv_and_files(cli_world, data):
    from test_hardening import finishes, run_cli

    command = data.draw(st.sampled_from(COMMANDS)).split()
    args = data.draw(st.lists(_tokens(cli_world), max_size=6))
    code, _, err = finishes(lambda: run_cli(*command, *args), seconds=120)
    assert code in (0, 1, 2), (command, args, code, err)
    assert "Traceback" not in err, (command, args, err)
    if code != 0:
        assert len(err.strip().splitlines()) <= 2, (command, args, err)   # one error line (a note may precede it)


TOY_SPECS = st.builds(lambda r, c, s, w: f"{r}:{c}{s}{w}",
                      st.sampled_from(["toy", "toy@v1", "toy@v2", "bundled:toy", "./model", "model", "./nowhere"]),
                      st.sampled_from(["obj0", "global0", "0", "1", "2", "01", "obj1", "light0"]),
                      st.sampled_from(["", "@0", "@1", "@00", "@99", "@files/noise.png", "@files/text.png",
                                       "@files/fifo.png", "@files/link.png", "@files/missing.png", "@/dev/zero"]),
                      WEIGHTS)


@settings(fast, max_examples=40)
@given(st.lists(TOY_SPECS, min_size=1, max_size=3))
def test_composer_from_random_specs(cli_world, specs):
    """Specs against a real (tiny) model and real files: a Composer or one CometError."""
    from comet_zoo.composer import Composer
    from test_hardening import finishes

    try:
        composer = finishes(lambda: Composer.from_specs(specs, device="cpu"), seconds=120)
    except CometError:
        return
    assert len(composer.terms) == len(specs)


# -- what the fuzzers found beyond the first list, kept as plain regression tests -------------
def test_found_a_card_whose_eval_results_are_plain_mappings(tmp_path):
    from comet_zoo.hub.cards import read_card

    (tmp_path / "README.md").write_text("---\neval_results:\n- {}\nconcepts: []\n---\n")
    with pytest.raises(CometError, match="unreadable concept card"):
        read_card(tmp_path)


def test_found_a_recipe_whose_model_kind_is_not_a_name():
    from comet_zoo.train.recipe import Recipe

    for kind in ([], {}, 3):
        with pytest.raises(CometError, match="kind"):
            Recipe.from_dict({"model": {"kind": kind}})
    with pytest.raises(CometError, match="seed"):
        Recipe.from_dict({"train": {"seed": -1}})


@pytest.mark.parametrize("command", ["decompose toy hub/toy/v1/exemplars/0.png -o d.png", "eval toy --n 2",
                                     "datasets preview shapes -o p.png"])
def test_found_seeds_out_of_range_in_commands(cli_world, command):
    from test_hardening import run_cli

    for seed in ("-5", str(2**70)):
        code, _, err = run_cli(*command.split(), "--seed", seed)
        assert code == 2 and "seed must be in" in err and "Traceback" not in err, err
