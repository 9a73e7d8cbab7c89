"""`comet train` end to end in a subprocess, and its one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import tiny_recipe


def comet(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env=None if env is None else {**os.environ, **env})


def test_train_writes_model_checkpoint_and_samples(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(tiny_recipe(total_steps=4).to_dict()))
    out = comet("train", str(recipe), "--out", str(tmp_path / "run"), "--device", "cpu")
    assert out.returncode == 0, out.stderr
    run = tmp_path / "run"
    for name in ("checkpoint.safetensors", "samples.png", "model/model.safetensors", "model/config.json"):
        assert (run / name).is_file(), name
    # a sample grid per checkpoint (checkpoint_every 3, 4 steps: steps 3 and 4)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-0000003.png", "step-0000004.png"]
    assert json.loads((run / "model" / "recipe.json").read_text())["train"]["precision"] == "fp32"
    # resumed with the CPU/GPU speed levers on: they do not change the run, so it continues
    again = comet("train", str(recipe), "--out", str(run), "--resume", "--steps", "6", "--bf16")
    assert again.returncode == 0, again.stderr
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 6
    train = json.loads((run / "model" / "recipe.json").read_text())["train"]
    assert (train["precision"], train["channels_last"]) == ("bf16", True)


def test_time_limit_stops_early_with_a_resumable_checkpoint(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(tiny_recipe(total_steps=100_000, checkpoint_every=100_000, log_every=1).to_dict()))
    run = tmp_path / "run"
    out = comet("train", str(recipe), "--out", str(run), "--device", "cpu", "--time-limit", "0.002")
    assert out.returncode == 0, out.stderr
    assert "time limit reached" in out.stdout
    from safetensors import safe_open

    with safe_open(str(run / "checkpoint.safetensors"), framework="pt") as f:
        stopped_at = int(f.metadata()["step"])
    assert 1 <= stopped_at < 100_000        # checkpointed at the stop, not at checkpoint_every
    assert (run / "model" / "model.safetensors").is_file()
    again = comet("train", str(recipe), "--out", str(run), "--resume", "--steps", str(stopped_at + 2))
    assert again.returncode == 0, again.stderr
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == stopped_at + 2


def test_a_run_folder_is_never_silently_replaced(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"model": {"image_size": 16, "num_components": 2, "latent_dim": 4, "width": 8,
                                            "num_blocks": 2, "steps": 2},
                                  "train": {"dataset": "shapes", "train_size": 64, "batch_size": 4, "total_steps": 2,
                                            "checkpoint_every": 2, "log_every": 1}}))
    run = tmp_path / "run"
    assert comet("train", str(recipe), "--out", str(run), "--device", "cpu").returncode == 0
    checkpoint = (run / "checkpoint.safetensors").read_bytes()
    again = comet("train", str(recipe), "--out", str(run), "--device", "cpu")
    assert again.returncode == 2 and "already holds a run" in again.stderr and "--overwrite" in again.stderr
    assert (run / "checkpoint.safetensors").read_bytes() == checkpoint      # untouched
    over = comet("train", str(recipe), "--out", str(run), "--device", "cpu", "--overwrite", "--steps", "1")
    assert over.returncode == 0, over.stderr
    assert [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()] == [1]  # a new log


def test_push_works_straight_after_train_and_eval_uses_the_training_data(tmp_path):
    from comet_zoo.eval.evaluate import training_options
    from comet_zoo.hub.cards import read_card

    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"model": {"image_size": 16, "num_components": 2, "latent_dim": 4, "width": 8,
                                            "num_blocks": 2, "steps": 2, "pos_embed": [True, False]},
                                  "train": {"dataset": "shapes", "dataset_options": {"max_objects": 2},
                                            "train_size": 64, "batch_size": 4, "total_steps": 2}}))
    run = tmp_path / "run"
    assert comet("train", str(recipe), "--out", str(run), "--device", "cpu").returncode == 0
    model = run / "model"
    assert json.loads((model / "recipe.json").read_text())["train"]["dataset"] == "shapes"
    assert training_options(model, "shapes") == {"max_objects": 2}          # eval renders what it trained on
    assert training_options(model, "clevr") == {}
    env = {"COMET_HOME": str(tmp_path / "home"), "COMET_CONFIG": str(tmp_path / "none.toml")}
    report = tmp_path / "eval.json"
    evaluated = comet("eval", str(model), "--dataset", "shapes", "--n", "4", "--metrics", "reconstruction",
                      "--option", "max_objects=3", "--json", str(report), env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "warning: --option max_objects=3 overrides the value the model was trained with (2)" in evaluated.stderr
    recorded = json.loads(report.read_text())["dataset"]
    assert recorded["options"]["max_objects"] == 3 and recorded["trained_options"] == {"max_objects": 2}
    assert recorded["overrides"] == {"max_objects": 3}
    pushed = comet("push", str(model), "--as", "mine", "--version", "v1", "--hub", f"file://{tmp_path / 'hub'}",
                   env=env)
    assert pushed.returncode == 0, pushed.stderr
    snapshot = tmp_path / "hub" / "mine" / "v1"
    assert [c.name for c in read_card(snapshot).concepts] == ["obj0", "global0"]   # from pos_embed
    assert (snapshot / "recipe.json").is_file() and (snapshot / "exemplars" / "0.png").is_file()
    text = (snapshot / "README.md").read_text()
    assert "pipeline_tag: image-to-image" in text and "https://arxiv.org/abs/2111.03042" in text   # what the Hub reads


def test_user_errors_are_one_line_with_exit_2(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    wrong_key = tmp_path / "wrong.json"
    wrong_key.write_text(json.dumps({"model": {"image_size": 16}, "train": {"epochs": 3}}))
    cases = [
        (["train", "nope"], "no recipe file or bundled recipe named 'nope'"),
        (["train", str(bad_json)], "is not valid json"),
        (["train", str(wrong_key)], "unknown train keys: epochs"),
        (["train", "quickstart", "--device", "tpu"], "unknown device"),
        (["train", "quickstart", "--encoder", "nope", "--out", str(tmp_path / "x")], "unknown encoder 'nope'"),
        (["train", "quickstart", "--resume", "--out", str(tmp_path / "none")], "nothing to resume"),
        (["train", "quickstart", "--time-limit", "0", "--out", str(tmp_path / "y")], "--time-limit must be a number"),
        (["train", "quickstart", "--time-limit", "nan", "--out", str(tmp_path / "y")], "--time-limit must be a number"),
    ]
    for args, message in cases:
        out = comet(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_init_from_fine_tunes_a_model_folder_and_misfits_are_one_line(tmp_path):
    source = tmp_path / "src.json"
    source.write_text(json.dumps(tiny_recipe(total_steps=2).to_dict()))
    assert comet("train", str(source), "--out", str(tmp_path / "src"), "--device", "cpu").returncode == 0
    model = tmp_path / "src" / "model"
    out = comet("train", str(source), "--out", str(tmp_path / "ft"), "--init-from", str(model), "--steps", "2")
    assert out.returncode == 0, out.stderr
    assert f"from{model}:everytensor" in "".join(out.stdout.split())   # rich wraps long paths
    # the recipe beside the fine-tuned model names where it started
    assert json.loads((tmp_path / "ft" / "model" / "recipe.json").read_text())["train"]["init_from"] == str(model)
    wide = tiny_recipe(total_steps=2)
    wide.model.width = 16
    other = tmp_path / "wide.json"
    other.write_text(json.dumps(wide.to_dict()))
    bad = comet("train", str(other), "--out", str(tmp_path / "bad"), "--init-from", str(model))
    assert bad.returncode == 2 and "does not fit this model" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
