"""Training-step speed and memory: our step against the straightforward ("naive") one.

    python benchmarks/train_step.py [--cases paper64,clevr64,small32] [--modes ours,naive]
                                    [--steps 3] [--device cpu|cuda]

One JSON line per (case, mode). Each runs in a fresh subprocess so its peak RSS
is its own. Both modes use the same model, data and settings (including flushed
denormals); they differ only in how the step is written:

- ours:  all K components of all B images in one [B*K] call, FiLM parameters
         and the image stem computed once, gradients through the last unrolled
         step only (truncated back-propagation, as in the paper), earlier steps'
         graphs freed at once;
- naive: a Python loop over components, every unrolled step kept in one graph
         with create_graph=True (what the official code builds).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

CASES = {
    "paper64": dict(image_size=64, num_components=4, latent_dim=64, width=64, encoder="conv",
                    pos_embed=[False] * 4, steps=10, step_size=1000.0, batch=16),
    "clevr64": dict(image_size=64, num_components=5, latent_dim=16, width=64, encoder="recurrent",
                    pos_embed=[True] * 5, steps=5, step_size=1000.0, batch=16),
    "small32": dict(image_size=32, num_components=4, latent_dim=16, width=32, encoder="recurrent",
                    pos_embed=[True] * 4, steps=5, step_size=1000.0, batch=16),
}


def naive_loss(model, x, x0):
    """The straightforward step: per-component loop, full unrolled graph."""
    import torch
    import torch.nn.functional as F

    net = model.energy_net
    z = model.infer(x)
    xi = x0.clone().requires_grad_(True)
    for _ in range(model.config.steps):
        energy = 0
        for k in range(z.shape[1]):
            energy = energy + net.evaluate(xi, net.condition(z[:, k:k + 1]), pos_mask=net.pos_mask[k:k + 1]).sum()
        (g,) = torch.autograd.grad(energy, xi, create_graph=True)
        xi = xi - model.config.step_size * g
        xi = xi + (xi.clamp(0, 1) - xi).detach()
    return F.mse_loss(xi, x)


def run_case(case: str, mode: str, steps: int, device: str, batch_override: int | None = None) -> dict:
    import torch
    import torch.nn.functional as F

    from comet_zoo.core.config import CometConfig
    from comet_zoo.core.model import COMET

    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    settings = dict(CASES[case])
    batch = settings.pop("batch")
    batch = batch_override or batch  # e.g. to fit the naive mode's memory on a small machine
    model = COMET(CometConfig(**settings)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, settings["image_size"], settings["image_size"], device=device)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def step():
        x0 = torch.rand_like(x)
        if mode == "ours":
            loss = F.mse_loss(model.generate(model.infer(x), x0=x0, grad_steps=1), x)
        else:
            loss = naive_loss(model, x, x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    step()  # warm-up: allocator, kernels
    sync()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    seconds = (time.perf_counter() - t0) / steps
    result = {
        "case": case, "mode": mode, "device": device, "threads": torch.get_num_threads(),
        "batch": batch, "image_size": settings["image_size"], "K": settings["num_components"],
        "latent": settings["latent_dim"], "width": settings["width"], "N": settings["steps"],
        "encoder": settings["encoder"], "s_per_step": round(seconds, 4), "img_per_s": round(batch / seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "base_rss_mb": round(base_rss, 1), "timed_steps": steps,
    }
    if device.startswith("cuda"):
        result["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        result["gpu"] = torch.cuda.get_device_name()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--modes", default="ours,naive")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, help="override every case's batch size")
    parser.add_argument("--_one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:  # child process: one case, one mode
        case, mode = args._one.split("/")
        print(json.dumps(run_case(case, mode, args.steps, args.device, args.batch)), flush=True)
        return
    for case in args.cases.split(","):
        if case not in CASES:
            sys.exit(f"unknown case {case!r}; known: {', '.join(CASES)}")
        for mode in args.modes.split(","):
            cmd = [sys.executable, __file__, "--_one", f"{case}/{mode}", "--steps", str(args.steps), "--device", args.device]
            cmd += ["--batch", str(args.batch)] if args.batch else []
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            if out.returncode != 0:
                reason = out.stderr.strip().splitlines()[-1:] or [f"killed by signal {-out.returncode}"]
                print(json.dumps({"case": case, "mode": mode, "error": reason}), flush=True)
            else:
                print(out.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
