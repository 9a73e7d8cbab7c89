"""`comet train` end to end in a subprocess, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import tiny_recipe


def comet(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_train_writes_model_checkpoint_and_samples(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(tiny_recipe(total_steps=4).to_dict()))
    out = comet("train", str(recipe), "--out", str(tmp_path / "run"), "--device", "cpu")
    assert out.returncode == 0, out.stderr
    run = tmp_path / "run"
    for name in ("checkpoint.safetensors", "samples.png", "model/model.safetensors", "model/config.json"):
        assert (run / name).is_file(), name
    again = comet("train", str(recipe), "--out", str(run), "--resume", "--steps", "6")
    assert again.returncode == 0, again.stderr
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 6


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
    ]
    for args, message in cases:
        out = comet(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
