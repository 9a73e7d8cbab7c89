"""Data parallelism and crash safety with real processes: gloo ranks, SIGKILL, resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

from conftest import tiny_recipe


def comet(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "comet_zoo.cli.main", *args], capture_output=True, text=True,
                          timeout=600, **kwargs)


def _losses(run):
    return [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]


def test_two_processes_train_like_one(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(tiny_recipe(total_steps=5, log_every=1, batch_size=8).to_dict()))
    one = comet("train", str(recipe), "--out", str(tmp_path / "one"), "--device", "cpu")
    assert one.returncode == 0, one.stderr
    two = comet("train", str(recipe), "--out", str(tmp_path / "two"), "--device", "cpu", "--nproc", "2")
    assert two.returncode == 0, two.stderr
    assert "× 2 processes" in two.stdout
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) == 5
    assert torch.allclose(torch.tensor(a), torch.tensor(b), rtol=1e-4, atol=1e-6), (a, b)
    wa = load_file(tmp_path / "one" / "model" / "model.safetensors")
    wb = load_file(tmp_path / "two" / "model" / "model.safetensors")
    for key in wa:
        assert torch.allclose(wa[key], wb[key], rtol=1e-3, atol=1e-5), key


def test_a_failing_rank_stops_all_with_a_clear_message(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(tiny_recipe(batch_size=9).to_dict()))  # 9 does not split over 2 ranks
    out = comet("train", str(recipe), "--out", str(tmp_path / "run"), "--device", "cpu", "--nproc", "2")
    assert out.returncode == 2
    assert "failed" in out.stderr and "all ranks stopped" in out.stderr and "Traceback" not in out.stderr


def test_sigkill_then_resume_reaches_the_uninterrupted_weights(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(tiny_recipe(total_steps=80, checkpoint_every=2).to_dict()))
    straight = comet("train", str(recipe), "--out", str(tmp_path / "straight"), "--device", "cpu")
    assert straight.returncode == 0, straight.stderr

    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "comet_zoo.cli.main", "train", str(recipe), "--out", str(run),
                             "--device", "cpu"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (run / "checkpoint.safetensors").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.5))  # a random moment, possibly mid-write of a checkpoint
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "model").exists(), "the run finished before it was killed; the test proves nothing"
    resumed = comet("train", str(recipe), "--out", str(run), "--device", "cpu", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    b = load_file(run / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


RANK_SCRIPT = """
import os, sys, torch
from comet_zoo.train.distributed import from_rank0, init_from_env, shutdown
rank, size = init_from_env(torch.device("cpu"))
mine = [1.5, 0.0] if rank == 0 else [9.0, 9.0]
with open(os.path.join(sys.argv[1], f"rank{rank}.txt"), "w") as f:
    f.write(repr((size, from_rank0(mine, torch.device("cpu")))))
shutdown(clean=True)
"""


def test_rank0_decides_for_every_rank(tmp_path):
    from comet_zoo.train.distributed import launch

    launch([str(tmp_path)], 2, program=[sys.executable, "-c", RANK_SCRIPT])
    assert (tmp_path / "rank0.txt").read_text() == (tmp_path / "rank1.txt").read_text() == "(2, [1.5, 0.0])"
