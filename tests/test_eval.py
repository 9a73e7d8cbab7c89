"""`comet eval` and its library: every metric group with its baselines, the card,
recombination against rendered truth, and one-line errors for what the data lacks."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from comet_zoo.eval.baselines.trivial import baseline_scores
from comet_zoo.errors import CometError
from comet_zoo.eval.evaluate import evaluate, flat_metrics, render_split
from comet_zoo.train.recipe import Recipe
from comet_zoo.eval.recombination import dataset_for, recombination_scores, score
from comet_zoo.eval.segment import ARGMAX, CLEAN, SMOOTH, Readout
from comet_zoo.train.trainer import Trainer

OPTIONS = {"min_objects": 2, "max_objects": 3}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lighting_model(tmp_path_factory):
    """A tiny clevr-lighting COMET (component 0 global, 1–2 objects) trained 3 steps."""
    torch.set_num_threads(1)
    recipe = Recipe.from_dict({
        "model": dict(image_size=32, num_components=3, latent_dim=8, width=8, num_blocks=2, stem_stride=2,
                      encoder="recurrent", pos_embed=[False, True, True], steps=3, step_size=100.0),
        "train": dict(dataset="clevr-lighting", dataset_options=OPTIONS, train_size=32, batch_size=8,
                      total_steps=3, checkpoint_every=3, log_every=1, seed=4)})
    out = tmp_path_factory.mktemp("lighting")
    trainer = Trainer(recipe, out)
    trainer.run()
    return trainer.model.eval(), trainer.export()


def comet(*args):
    return subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", *args],
                          capture_output=True, text=True, timeout=300)


def test_report_has_every_group_with_baselines_on_the_same_scenes(lighting_model):
    model, _ = lighting_model
    report = evaluate(model, "clevr-lighting", n=20, options=OPTIONS, pairs=3)
    assert set(report["reconstruction"]) == {"mse", "psnr", "ssim", "mse_mean_image"}
    seg = report["segmentation"]
    assert seg["k"] == 3 and set(seg) == {"k", "readout", "model", "argmax", "stripes", "grid", "kmeans_colour", "components"}
    roles = seg["components"]
    assert all(len(roles[key]) == 3 for key in ("object_iou", "binds", "background", "area", "names"))
    assert sum(roles["area"]) == pytest.approx(1.0, abs=1e-3)    # the argmax gives every pixel to a component
    for row in ("model", "stripes", "kmeans_colour"):
        assert set(seg[row]) == {"fg_ari", "ari", "msc", "wsc"}
    scenes = render_split("clevr-lighting", 32, n=20, options=OPTIONS)
    assert seg["stripes"] == baseline_scores(scenes.images, scenes.masks, 3)["stripes"]
    assert set(report["disentanglement"]) >= {"betavae", "mig", "mcc", "dci_disentanglement", "pca_dim"}
    assert report["disentanglement"]["pca_dim"] == 4          # clevr-lighting has 4 light factors
    # every disentanglement row has what no learning scores beside it
    dis_base = report["disentanglement"]["baselines"]
    assert set(dis_base) == {"random_init", "random_projection"}
    for row in dis_base.values():
        assert set(row) == {"betavae", "mig", "mcc", "dci_disentanglement", "dci_completeness", "dci_informativeness"}
    assert dis_base["random_init"] != {k: report["disentanglement"][k] for k in dis_base["random_init"]}
    rec = report["recombination"]
    assert set(rec) == {"pairs", "lighting", "object"}
    for swap in ("lighting", "object"):
        assert rec[swap]["n"] >= 1 and math.isfinite(rec[swap]["composed"]["psnr"])
    flat = flat_metrics(report)
    assert {"fg_ari", "fg_ari_stripes", "fg_ari_kmeans", "mig", "mig_random_init", "mig_random_projection",
            "recombination_lighting_composed_psnr"} <= set(flat)


def test_recombination_truth_is_the_dataset_render_and_scores_itself_perfectly():
    ds = dataset_for("clevr-lighting", 32, OPTIONS)
    a, b = ds.describe("test", 2, 0)
    original = ds.render([a]).images
    # Swapping a scene's light for its own renders the scene exactly: the truth side is exact.
    assert np.array_equal(ds.render([{**a, "light": a["light"]}]).images, original)
    relit = ds.render([{**a, "light": b["light"]}]).images
    assert not np.array_equal(relit, original)
    perfect = score(relit, relit)
    assert perfect["psnr"] == math.inf and perfect["ssim"] == pytest.approx(1.0)
    worse = score(original, relit)
    assert math.isfinite(worse["psnr"]) and worse["ssim"] < 1.0


def test_recombination_alone_and_its_refusals(lighting_model):
    from comet_zoo.architectures import build_model, config_from_dict

    model, _ = lighting_model
    rec = recombination_scores(model, "clevr-lighting", pairs=2, options=OPTIONS)
    assert math.isfinite(rec["lighting"]["composed"]["psnr"]) and 0 <= rec["lighting"]["composed"]["ssim"] <= 1
    # The control swaps an object component instead of the global one (component 0 here).
    control = rec["lighting"]["best_other_component"]
    assert control["component"] in range(1, model.config.num_components) and math.isfinite(control["psnr"])
    vae = build_model(config_from_dict({"kind": "beta-vae", "image_size": 32, "latent_dim": 4, "width": 8, "hidden": 16}))
    with pytest.raises(CometError, match="only COMET models compose"):
        recombination_scores(vae, "clevr-lighting", pairs=2)
    with pytest.raises(CometError, match="recombination: dataset shapes cannot render edited scene descriptions"):
        evaluate(model, "shapes", n=4, metrics=["recombination"])


def test_bad_input_names_what_is_missing(lighting_model):
    model, _ = lighting_model
    with pytest.raises(CometError, match="segmentation .* needs ground-truth masks; dataset falcor has none"):
        evaluate(model, "falcor", n=4, metrics=["segmentation"])
    with pytest.raises(CometError, match="batch size must be in 1..1024 and pairs in 1..1000"):
        evaluate(model, "clevr", n=4, batch_size=0)
    with pytest.raises(CometError, match="needs ground-truth factors; dataset clevr has none"):
        evaluate(model, "clevr", n=4, metrics=["disentanglement"])
    with pytest.raises(CometError, match="the model takes 32×32 images but dataset clevr rendered 16×16"):
        evaluate(model, "clevr", n=4, options={"size": 16})
    # --resize is the documented way through: images and masks come back at the model's size.
    report = evaluate(model, "clevr", n=4, options={"size": 16, **OPTIONS}, resize=True, metrics=["segmentation"],
                      readout=ARGMAX)
    assert "segmentation" in report and "disentanglement" not in report
    assert "argmax" not in report["segmentation"]          # the chosen read-out is the argmax itself
    # The paper's thresholding adds a background segment: the scores change, the baselines do not.
    thresholded = evaluate(model, "clevr", n=4, options={"size": 16, **OPTIONS}, resize=True,
                           metrics=["segmentation"], readout=Readout(threshold=0.5))["segmentation"]
    assert thresholded["stripes"] == report["segmentation"]["stripes"]
    assert thresholded["model"] != report["segmentation"]["model"]
    assert thresholded["argmax"] == report["segmentation"]["model"]   # scored beside it, from the same maps
    from comet_zoo.architectures import build_model, config_from_dict

    vae = build_model(config_from_dict({"kind": "beta-vae", "image_size": 32, "latent_dim": 4, "width": 8, "hidden": 16}))
    with pytest.raises(CometError, match="needs a model that segments; beta-vae does not"):
        evaluate(vae, "clevr", n=4, metrics=["segmentation"])
    # Auto mode skips what does not apply instead of failing: falcor has factors, no masks.
    auto = evaluate(vae, "falcor", n=40, options={"size": 32})
    assert "segmentation" not in auto and "recombination" not in auto and "mig" in auto["disentanglement"]


def test_cli_eval_writes_json_and_the_card(lighting_model):
    from huggingface_hub import ModelCard

    from comet_zoo.hub.cards import card_readout

    _, folder = lighting_model
    out = folder.parent / "report.json"
    args = ["eval", str(folder), "--dataset", "clevr-lighting", "--n", "12", "--pairs", "2",
            "-O", "min_objects=2", "-O", "max_objects=3", "--device", "cpu", "--json", str(out), "--card"]
    run = comet(*args)
    assert run.returncode == 0, run.stderr
    assert "stripes baseline" in run.stdout and "recombination" in run.stdout
    report = json.loads(out.read_text())
    assert report["dataset"]["n"] == 12 and report["dataset"]["options"] == OPTIONS
    card = ModelCard.load(folder / "README.md")
    values = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert values["fg_ari"] == pytest.approx(report["segmentation"]["model"]["fg_ari"])
    assert values["fg_ari_stripes"] == pytest.approx(report["segmentation"]["stripes"]["fg_ari"])
    assert "fg_ari" in card.data.metrics and "## Evaluation" in card.text
    assert report["segmentation"]["readout"] == CLEAN.to_dict()             # the default read-out
    assert report["segmentation"]["components"]["iou_within"] == "image"    # its threshold leaves the floor out
    again = comet(*args, "--readout", "smooth")           # a second run replaces the section
    assert again.returncode == 0, again.stderr
    assert (folder / "README.md").read_text().count("## Evaluation") == 1
    smooth = json.loads(out.read_text())["segmentation"]
    assert smooth["readout"] == SMOOTH.to_dict()
    assert smooth["components"]["iou_within"] == "objects"                  # every pixel to a component
    assert "within the objects' pixels" in " ".join(again.stdout.split())   # the table says so
    assert card_readout(folder) == SMOOTH.to_dict()       # the card records the read-out of its numbers
    args = ["eval", str(folder), "--dataset", "clevr-lighting", "--n", "4", "--metrics", "segmentation",
            "-O", "min_objects=2", "-O", "max_objects=3", "--device", "cpu", "--json", str(out)]
    default = comet(*args)                                # and comet eval reads them that way by default
    assert default.returncode == 0, default.stderr
    assert json.loads(out.read_text())["segmentation"]["readout"] == SMOOTH.to_dict()
    tuned = comet(*args, "--smooth", "1")                 # an override tunes the card's read-out
    assert tuned.returncode == 0, tuned.stderr
    assert json.loads(out.read_text())["segmentation"]["readout"] == {"smooth": 1, "threshold": None, "vote": 0}
    assert json.loads(out.read_text())["model"]["refine_steps"] == 0      # the config's default
    refined = comet(*args, "--refine", "2")               # latents refined 2 steps, and the report says so
    assert refined.returncode == 0, refined.stderr
    assert json.loads(out.read_text())["model"]["refine_steps"] == 2
    assert "latents refined 2 steps" in " ".join(refined.stdout.split())


def test_card_metrics_keep_a_concept_card_readable(tmp_path):
    from comet_zoo.hub.cards import card_readout, read_card, render, write_metrics

    config = {"num_components": 2, "pos_embed": [False, True]}
    (tmp_path / "exemplars").mkdir()
    card = render(name="demo", version="v1", source={}, config=config, training={}, exemplars=["exemplars/0.png"],
                  metrics={"mse": 0.5}, dataset="clevr")
    (tmp_path / "README.md").write_text(str(card))
    write_metrics(tmp_path, {"fg_ari": 0.25, "fg_ari_stripes": 0.5, "mse": 0.1}, dataset="clevr", n=10)
    info = read_card(tmp_path)
    assert info.metrics == {"mse": 0.1, "fg_ari": 0.25, "fg_ari_stripes": 0.5}
    assert [c.name for c in info.concepts] == ["global0", "obj0"]
    assert card_readout(tmp_path) is None                 # no read-out recorded: comet eval uses CLEAN
    write_metrics(tmp_path, {"fg_ari": 0.5}, dataset="clevr", n=10, readout={"smooth": 3, "threshold": 2.0, "vote": 0})
    assert card_readout(tmp_path) == {"smooth": 3, "threshold": 2.0, "vote": 0}
    with pytest.raises(CometError, match="card: .* not a segmentation read-out .*threshold"):
        Readout.from_dict(card_readout(tmp_path), "card")
    with pytest.raises(CometError, match="not a segmentation read-out"):
        Readout.from_dict({"smooth": 1, "radius": 2}, "card")


def test_cli_errors_are_one_line_with_exit_2(lighting_model):
    _, folder = lighting_model
    cases = [
        (["eval", str(folder), "--dataset", "falcor", "--metrics", "segmentation"], "dataset falcor has none"),
        (["eval", str(folder), "--dataset", "clevr", "--metrics", "mig"], "unknown metric group 'mig'"),
        (["eval", "clevr", "--dataset", "clevr", "--card"], "--card writes into a local model folder"),
        (["eval", str(folder), "--dataset", "clevr", "--refine", "-3"], "refine_steps must be in 0..10000"),
    ]
    for args, message in cases:
        out = comet(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_global_components_are_scored_by_what_they_control():
    # A model of global components only (no positional embedding) on falcor: each
    # component k is swapped in from scene B and scored against A re-rendered with
    # B's light and with B's camera; the per-component table names the components.
    from comet_zoo.core.config import CometConfig
    from comet_zoo.core.model import COMET

    torch.manual_seed(0)
    model = COMET(CometConfig(image_size=16, num_components=2, latent_dim=4, width=8, num_blocks=2, stem_stride=2,
                              encoder="conv", pos_embed=[False, False], steps=2, step_size=10.0)).eval()
    rec = recombination_scores(model, "falcor", pairs=2)
    effects = rec["components"]
    assert effects["groups"] == ["light", "camera"] and effects["n"] == 2
    assert set(effects["psnr_gain_db"]) == {"0", "1"}
    assert all(math.isfinite(v) for gains in effects["psnr_gain_db"].values() for v in gains.values())
    flat = flat_metrics({"reconstruction": {"mse": 0.0}, "recombination": rec})
    assert "recombination_component1_camera_gain_db" in flat
    # models with object components get object swaps instead
    objects = COMET(CometConfig(image_size=16, num_components=2, latent_dim=4, width=8, num_blocks=2, stem_stride=2,
                                encoder="conv", pos_embed=[True, True], steps=2, step_size=10.0))
    with pytest.raises(CometError, match="neither lighting factors"):
        recombination_scores(objects, "falcor", pairs=2)


def test_push_picks_auto_exemplars_where_each_object_component_covers_an_object(lighting_model, tmp_path):
    import shutil

    from comet_zoo import publish
    from comet_zoo.eval.metrics import object_ious
    from comet_zoo.eval.segment import gradient_maps, labels_from_maps
    from comet_zoo.hub.cards import read_card

    model, folder = lighting_model
    source = tmp_path / "lit.yaml"
    source.write_text("name: lit\ntitle: t\nsummary: s\nexemplars: 5\nconcepts:\n"
                      "  - {name: light0, kind: global, exemplar: auto}\n"
                      "  - {name: obj0, exemplar: auto}\n"
                      "  - {name: obj1, exemplar: 3}\n")
    out = publish.build(folder, "lit", "v1", tmp_path / "artifact", card_source=source)
    chosen = [c.exemplar for c in read_card(out).concepts]
    # the scene in which component 1 covers an object best, under comet eval's default read-out
    scenes = publish.recipe_test_split(Recipe.load(folder / "recipe.json"), 32, 5)
    x = torch.from_numpy(scenes.images)
    with torch.no_grad():
        recon = model.reconstruct(x, generator=torch.Generator().manual_seed(0))
    ious = object_ious(scenes.masks, labels_from_maps(gradient_maps(model, x, recon), CLEAN).numpy(), 3)
    assert chosen == ["exemplars/0.png", f"exemplars/{int(np.argmax(ious[:, 1]))}.png", "exemplars/3.png"]
    # without the recipe's data set there are no masks to choose by: one clear error
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "recipe.json").unlink()
    (bare / "exemplars").mkdir()
    shutil.copy(out / "exemplars" / "0.png", bare / "exemplars" / "0.png")
    with pytest.raises(CometError, match="exemplar: auto needs the recipe's data set"):
        publish.build(bare, "lit", "v1", tmp_path / "artifact2", card_source=source)
