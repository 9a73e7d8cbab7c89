"""The composer on real hub artifacts: two tiny trained models pushed to a directory hub."""

from __future__ import annotations

import contextlib
import io
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from comet_zoo.composer import Composer, resize
from comet_zoo.data.images import grid
from comet_zoo.errors import CometError
from comet_zoo.spec import parse_spec
from comet_zoo.train.trainer import Trainer
from conftest import tiny_recipe

# A trained 16 px model reconstructs its own shapes exemplars at least this well (MSE);
# an untrained one scores ~0.2.
RECON_MSE_BOUND = 0.03


def _publish(root, name, step_size, seed):
    from comet_zoo import publish
    from comet_zoo.data.images import grid, save_png

    recipe = tiny_recipe(total_steps=150, batch_size=16, train_size=512, lr=3e-3, seed=seed, checkpoint_every=150)
    recipe.model.steps, recipe.model.step_size = 4, step_size
    recipe.model.pos_embed = [True, True]
    trainer = Trainer(recipe, root / f"run-{name}")
    trainer.run()
    model_dir = trainer.export()
    (model_dir / "exemplars").mkdir()
    for i, image in enumerate(torch.from_numpy(trainer.preview[:4])):
        save_png(grid(image[None], nrow=1, pad=0), model_dir / "exemplars" / f"{i}.png")
    source = root / f"{name}.yaml"
    source.write_text(f"name: {name}\ntitle: test model\nexemplars: 4\nconcepts:\n"
                      "  - {name: obj0, kind: local, description: first, exemplar: 0}\n"
                      "  - {name: obj1, kind: local, description: second, exemplar: 1}\n")
    publish.push(model_dir, name, "v1", hub=f"file://{root / 'hub'}", card_source=source)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    mp = pytest.MonkeyPatch()
    mp.setenv("COMET_HOME", str(root / "home"))
    mp.setenv("COMET_HUB", f"file://{root / 'hub'}")
    mp.setenv("HF_HUB_OFFLINE", "1")
    _publish(root, "tiny", step_size=100.0, seed=1)
    _publish(root, "other", step_size=30.0, seed=2)
    yield root
    mp.undo()


def test_own_components_from_own_exemplar_reproduce_it(zoo):
    from comet_zoo import hub
    from comet_zoo.data.images import load_image
    from comet_zoo.core.model import COMET

    composer = Composer.from_specs(["tiny:obj0@2", "tiny:obj1@2"])
    out = composer.sample(1, steps=composer.steps, seed=0)  # N steps, the model's own sampler
    snapshot = hub.resolve("tiny")
    exemplar = load_image(snapshot / "exemplars" / "2.png", 16)
    model = COMET.load(snapshot)
    recon = model.reconstruct(exemplar, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, recon, atol=1e-6)          # the composer is the model's own sampler
    assert F.mse_loss(out, exemplar).item() <= RECON_MSE_BOUND


def test_components_of_one_image_share_one_inference(zoo, monkeypatch, tmp_path):
    # Inference may refine its latents (refine_steps): a user's image is inferred once per model.
    # (A card exemplar's latent is stored in the artifact and needs none: tests/test_latents.py.)
    import shutil

    from comet_zoo import hub
    from comet_zoo.core.model import COMET

    monkeypatch.setenv("COMET_LATENT_CACHE_MB", "0")      # no latent cache: every new image is inferred
    mine = []
    for i in (2, 3):
        mine.append(tmp_path / f"mine{i}.png")
        shutil.copyfile(hub.resolve("tiny") / "exemplars" / f"{i}.png", mine[-1])
    calls = []
    infer = COMET.infer
    monkeypatch.setattr(COMET, "infer", lambda self, x, refine=None: calls.append(len(x)) or infer(self, x, refine))
    with pytest.raises(CometError, match="tiny:obj9"):
        Composer.from_specs([f"tiny:obj0@{mine[0]}", "tiny:obj9"])
    assert calls == []                                     # a bad spec fails before any inference
    composer = Composer.from_specs([f"tiny:obj0@{mine[0]}", f"tiny:obj1@{mine[0]}", f"tiny:obj0@{mine[1]}",
                                    f"other:obj0@{mine[0]}"])
    assert calls == [1, 1, 1]                              # tiny's two images, other's one
    with torch.no_grad():
        own = composer.models["tiny"].infer(_exemplar(2))[0]
    torch.testing.assert_close(torch.stack([t.latent for t in composer.terms[:2]]), own)


def test_weights_scale_and_negation_reverses_the_descent(zoo):
    """One step moves the canvas by -w·c·∇E: half the weight half as far, a negative one the other way."""
    def first_step(weight):
        return Composer.from_specs([f"tiny:obj0@0*{weight}"]).sample(1, steps=1, seed=3)

    x0 = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    full, half, neg = (first_step(w) - x0 for w in (0.02, 0.01, -0.02))  # small: few pixels clamp
    free = (x0 + full > 0) & (x0 + full < 1) & (x0 + neg > 0) & (x0 + neg < 1)   # pixels no clamp touched
    assert free.float().mean() > 0.2 and full[free].abs().mean() > 1e-3
    assert torch.allclose(half[free], full[free] / 2, atol=1e-5)
    assert torch.allclose(neg[free], -full[free], atol=1e-5)


def test_a_negative_weight_subtracts_the_concept(zoo):
    """After the full descent, obj0's energy is highest when obj0 was subtracted."""
    model = Composer.from_specs(["tiny:obj0@0"]).models["tiny"]
    z = model.infer(_exemplar(0)).expand(2, -1, -1)                    # obj0's latent: z[:, 0]

    def energy_of_obj0(weight):
        specs = ["tiny:obj1@0"] + ([f"tiny:obj0@0*{weight}"] if weight else [])
        x = Composer.from_specs(specs).sample(2, seed=3)
        return model.energy(x, z)[:, 0].mean().item()

    minus, absent, plus = (energy_of_obj0(w) for w in (-1, 0, 1))
    assert minus > absent and minus > plus, (minus, absent, plus)
    assert plus <= absent + 1e-2, (plus, absent)


def _exemplar(i):
    from comet_zoo import hub
    from comet_zoo.data.images import load_image

    return load_image(hub.resolve("tiny") / "exemplars" / f"{i}.png", 16)


def test_same_seed_same_image_and_other_seed_other_image(zoo):
    composer = Composer.from_specs(["tiny:obj0", "other:obj1*0.5"])
    a, b, c = composer.sample(3, seed=5), composer.sample(3, seed=5), composer.sample(3, seed=6)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (3, 3, 16, 16) and 0 <= a.min() and a.max() <= 1


def test_resize_passes_gradients_and_a_larger_canvas_keeps_the_picture(zoo):
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    resize(x, 16).sum().backward()
    assert (x.grad > 0).all()

    native = Composer.from_specs(["tiny:obj0@1", "tiny:obj1@1"]).sample(1, seed=0)
    big = Composer.from_specs(["tiny:obj0@1", "tiny:obj1@1"], size=48).sample(1, seed=0)
    assert big.shape[-1] == 48
    # The (S/s)^2 step-size rule makes the canvas descend as far as the native sampler:
    # without it the 48 px canvas would stay near its U(0,1) start (MSE ~ 0.1 to the target).
    assert F.mse_loss(resize(big, 16), _exemplar(1)).item() < 2 * F.mse_loss(native, _exemplar(1)).item() + 0.01


def test_two_models_share_one_canvas(zoo):
    composer = Composer.from_specs(["tiny:obj0", "other:obj0"])
    assert set(composer.models) == {"tiny", "other"}
    energy = composer.energy_fn(1)
    x = torch.rand(1, 3, 16, 16)
    # The canvas energy is each model's λ-weighted energy of its own term.
    expected = sum(m.config.step_size * m.energy(x, t.latent[None, None].expand(1, m.config.num_components, -1))[:, 0]
                   for t, m in ((t, composer.models[t.model]) for t in composer.terms))
    assert torch.allclose(energy(x), expected, rtol=1e-4)


def run_cli(*args) -> tuple[int, str]:
    """`comet ARGS` in this process (fast enough for thousands of calls): (exit code, stderr)."""
    from comet_zoo.cli.main import main

    err = io.StringIO()
    argv = sys.argv
    sys.argv = ["comet", *args]
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return code, err.getvalue()


def test_compose_cli_writes_a_png_and_a_gif(zoo):
    from PIL import Image

    code, err = run_cli("compose", "tiny:obj0", "other:obj1*-0.5", "-o", str(zoo / "out.png"), "--scale", "1",
                        "--gif", str(zoo / "t.gif"), "--batch", "2", "--sampler", "langevin", "--device", "cpu")
    assert code == 0, err
    with Image.open(zoo / "out.png") as im:
        assert im.format == "PNG" and im.size == (16 * 2 + 2 * 3, 16 + 2 * 2)
    with Image.open(zoo / "t.gif") as gif:
        assert gif.n_frames == 4 * 4            # the CLI descends 4 × N steps by default (N = 4 here)
    code, err = run_cli("compose", "tiny:obj0", "-o", str(zoo / "out1.png"), "--gif", str(zoo / "t1.gif"),
                        "--steps", "3", "--device", "cpu")
    assert code == 0, err
    with Image.open(zoo / "t1.gif") as gif:
        assert gif.n_frames == 3
    code, err = run_cli("compose", "tiny:obj0", "-o", str(zoo / "big.png"), "--scale", "4", "--device", "cpu")
    assert code == 0, err
    with Image.open(zoo / "big.png") as im:
        assert im.size == (64, 64)
    code, err = run_cli("compose", "tiny:obj0", "-o", str(zoo / "default.png"), "--device", "cpu")
    assert code == 0, err
    with Image.open(zoo / "default.png") as im:
        assert im.size == (128, 128)            # the 16-px canvas enlarged 8× to be viewable by default


def test_python_and_cli_draw_the_same_picture_for_one_seed(zoo):
    """Same defaults (4 × N steps, device auto, ≥ 128 px) and the same seed: the same pixels."""
    import numpy as np
    from PIL import Image

    from comet_zoo import compose

    code, err = run_cli("compose", "tiny:obj0", "other:obj1", "-o", str(zoo / "cli.png"), "--seed", "7")
    assert code == 0, err
    python = compose(["tiny:obj0", "other:obj1"], seed=7)                              # a PIL image
    assert python.size == (128, 128)
    with Image.open(zoo / "cli.png") as im:
        cli = np.asarray(im.convert("RGB"))
    assert np.array_equal(cli, np.asarray(python))
    other_seed = np.asarray(compose(["tiny:obj0", "other:obj1"], seed=8))
    assert not np.array_equal(cli, other_seed)                                          # the seed matters
    native = Composer.from_specs(["tiny:obj0", "other:obj1"]).sample(seed=7)[0]         # [3, S, S]
    assert np.array_equal(np.asarray(grid(native[None], nrow=1, pad=0, scale=8)), cli)
    assert Composer.from_specs(["tiny:obj0"]).sample(steps=1, seed=7).shape == (1, 3, 16, 16)


def test_list_models_and_card_from_the_package(zoo):
    from comet_zoo import card, list_models, load_model

    assert list_models() == ["other", "tiny"] and list_models("t*") == ["tiny"] and list_models("x*") == []
    assert list_models("tiny", versions=True) == ["tiny@v1"]
    assert [c.name for c in card("tiny").concepts] == ["obj0", "obj1"]
    assert load_model("tiny@v1").config.num_components == 2


def test_decompose_and_recombine_cli(zoo):
    from PIL import Image

    from comet_zoo import hub

    image = str(hub.resolve("tiny") / "exemplars" / "0.png")
    code, err = run_cli("decompose", "tiny", image, "-o", str(zoo / "d.png"), "--device", "cpu")
    assert code == 0, err
    with Image.open(zoo / "d.png") as im:
        assert im.width > 4 * 16 and im.height > 2 * 16
    code, err = run_cli("recombine", f"tiny:{image}", f"other:{image}", "-o", str(zoo / "r.png"), "--device", "cpu")
    assert code == 0, err
    assert (zoo / "r.png").stat().st_size > 0


def test_decompose_masks_partition_the_image(zoo):
    from comet_zoo.eval.segment import gradient_maps

    composer = Composer.from_specs(["tiny:obj0"])
    model = composer.models["tiny"]
    x = _exemplar(0)
    owner = gradient_maps(model, x).argmax(1)                           # [1, 16, 16]
    masks = torch.stack([(owner == k) for k in range(model.config.num_components)])
    assert torch.equal(masks.sum(0), torch.ones_like(owner))           # every pixel, exactly once


@pytest.mark.parametrize("spec, message", [
    ("nope:obj0", "unknown model 'nope'"),
    ("tiny@v9:obj0", "no version v9"),
    ("tiny:obj7", "no concept 'obj7'"),
    ("tiny:5", "components 0..1"),
    ("tiny:obj0@99", "exemplars 0..3"),
    ("tiny:obj0@missing.png", "image not found"),
    ("tiny", "missing ':'"),
    ("tiny:obj0@²", "image not found"),          # a Unicode digit is not an exemplar index
    ("tiny:obj0*x", "weight 'x' is not a number"),
])
def test_bad_specs_get_one_line_naming_the_spec(zoo, spec, message):
    code, err = run_cli("compose", spec, "-o", str(zoo / "x.png"))
    assert code == 2, err
    assert message in err and spec in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("option, value, message", [
    ("--size", "0", "canvas size must be in 8..1024"),      # 0 is not "the default"
    ("--steps", "0", "steps must be in 1..10000"),
    ("--steps", "99999", "steps must be in 1..10000"),
    ("--seed", "-1", "seed must be in 0..2**63-1"),
    ("--seed", str(2**64), "seed must be in 0..2**63-1"),
    ("--batch", "0", "batch must be in 1..64"),
    ("--batch", "100000", "batch must be in 1..64"),
])
def test_out_of_range_numbers_are_refused_not_defaulted(zoo, option, value, message):
    code, err = run_cli("compose", "tiny:obj0", option, value, "-o", str(zoo / "r.png"), "--device", "cpu")
    assert code == 2 and message in err and "Traceback" not in err, err


SPEC_PARTS = st.tuples(
    st.sampled_from(["tiny", "other", "nope", "Tiny", "", "../x", "tiny@v1", "tiny@v2", "tiny@1", "a b",
                     "bundled:tiny", "hf-hub:org/tiny@v1", "hf-hub:tiny", "file:///tmp/hub/tiny@v2", "file://x/tiny",
                     "./model", "~/m"]),
    st.sampled_from([":", "", "::"]),
    st.sampled_from(["obj0", "obj1", "obj9", "0", "1", "7", "", "-", "light0"]),
    st.sampled_from(["", "@0", "@3", "@99", "@", "@missing.png", "@/dev/null", "@-1"]),
    st.sampled_from(["", "*0.5", "*-1", "*", "*x", "*nan", "*1e999", "*2*3"]),
)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(max_size=30), SPEC_PARTS.map("".join)))
@example("~0:")  # a `~user` path of an unknown user (found by this test in CI)
def test_the_parser_never_raises_anything_but_comet_error(text):
    try:
        spec = parse_spec(text)
    except CometError as exc:
        assert "\n" not in str(exc)
    else:
        assert spec.model_ref and spec.component
        assert parse_spec(f"{spec.model_ref}:{spec.component}").ref == spec.ref  # the model text round-trips


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(SPEC_PARTS.map("".join), min_size=0, max_size=2), st.sampled_from([None, 0, 1, -3, 2**64]))
def test_the_python_api_raises_only_one_line_comet_errors(zoo, specs, seed):
    from comet_zoo import compose

    try:
        picture = compose(specs, steps=1, seed=seed if seed is not None else 0, device="cpu")
    except CometError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert picture.size == (128, 128) and specs


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(SPEC_PARTS.map("".join), st.sampled_from(["--steps", "--size", "--batch"]), st.sampled_from(["1", "0", "-3", "x"]))
def test_the_cli_never_shows_a_traceback(zoo, spec, option, value):
    code, err = run_cli("compose", spec, option, value, "-o", str(zoo / "h.png"), "--device", "cpu")
    assert "Traceback" not in err
    assert code in (0, 2), (spec, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err
