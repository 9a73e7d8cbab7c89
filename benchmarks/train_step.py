"""Training-step speed and memory, against the paper's official code in the same job.

    python benchmarks/train_step.py [--cases paper64,clevr64,small32] [--variants base,mb4]
                                    [--steps 3] [--threads 2] [--device cpu|cuda]
                                    [--official [--official-mirror PATH] [--anchors DIR]]

One JSON line per (case, variant); each runs in a fresh subprocess so its peak
RSS is its own. A variant is comet-zoo's step (Trainer.train_step's math: all K
components of all B images in one [B*K] call, FiLM parameters and the image stem
computed once, gradients through the last unrolled step only) with one engine
lever set:

    base            the whole batch in one forward/backward
    mbM             micro-batches of M images (train.micro_batch = M)
    cl              channels_last memory format
    bf16            bf16 autocast (train.precision bf16; the stem conv stays fp32)
    bf16free        bf16 autocast in the N-1 descent steps that keep no graph only; the
                    graph-kept step, the encoder and so every gradient stay fp32
                    (train.precision bf16-descent)
    compile         torch.compile the energy for the N-1 descent steps without a training
                    graph (train.compile; compilation falls in the warm-up step)
    fullres         the first FiLM block at full resolution (stem_stride 1: main's
                    paper64 before the pool stem; 4x the FLOPs of that block)
    levers join with "+", e.g. mb4+cl. `--profile` adds each variant's top
    operators (torch.profiler, share of self CPU time) to its line.

Time is reported twice: wall time (`s_per_step`, `img_per_s`) and the process's CPU time
(`cpu_s_per_step`, all threads together, from time.process_time). On a machine that other
jobs load, wall time stretches with their share of the cores while CPU time mostly does not,
so `img_per_cpu_s` ratios are the steadier comparison there; on a quiet machine the two agree
up to the threads' idle waits.

`--official` first times the official implementation (github.com/yilundu/comet,
run unedited by the project's anchor harness `official_bench.py`) with the same
shape and threads, then prints, per case, one `ratio` line: our img/s over its
img/s and our peak RSS over its. The official code is never copied into this
repository: clone it (`git clone https://github.com/yilundu/comet`) and point
COMET_OFFICIAL_MIRROR at the mirror (the harness extracts it to a scratch folder).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

# The official net (LatentEBM) average-pools after a full-resolution stem: stem "pool"
# at stride 2 is the same shape, so these cases compare like with like.
CASES = {
    "paper64": dict(image_size=64, num_components=4, latent_dim=64, width=64, encoder="conv", stem="pool",
                    stem_stride=2, pos_embed=[False] * 4, steps=10, step_size=1000.0, batch=16),
    "clevr64": dict(image_size=64, num_components=5, latent_dim=16, width=64, encoder="recurrent", stem="pool",
                    stem_stride=2, pos_embed=[True] * 5, steps=5, step_size=1000.0, batch=16),
    "small32": dict(image_size=32, num_components=4, latent_dim=16, width=32, encoder="recurrent", stem="pool",
                    stem_stride=2, pos_embed=[True] * 4, steps=5, step_size=1000.0, batch=16),
}
# The official harness's flags for the same shape (its recurrent encoder for the object cases).
OFFICIAL_FLAGS = {
    "paper64": ["--image-size", "64", "--components", "4", "--latent-dim", "64", "--filter-dim", "64", "--steps", "10"],
    "clevr64": ["--image-size", "64", "--components", "5", "--latent-dim", "16", "--filter-dim", "64", "--steps", "5",
                "--recurrent"],
    "small32": ["--image-size", "32", "--components", "4", "--latent-dim", "16", "--filter-dim", "32", "--steps", "5",
                "--recurrent"],
}


def lever(variant: str) -> dict:
    """Variant name → engine settings."""
    settings: dict = {}
    for part in variant.split("+"):
        if part == "base":
            continue
        if part == "cl":
            settings["channels_last"] = True
        elif part == "fullres":
            settings["fullres"] = True
        elif part == "compile":
            settings["compile"] = True
        elif part == "bf16":
            settings["bf16"] = True
        elif part == "bf16free":
            settings["bf16free"] = True
        elif part.startswith("mb") and part[2:].isdigit():
            settings["micro_batch"] = int(part[2:])
        else:
            raise SystemExit(f"unknown lever {part!r} in {variant!r}: base, cl, bf16, bf16free, compile, fullres or mbM")
    return settings


def run_case(case: str, variant: str, steps: int, device: str, batch_override: int | None,
             profile: bool = False) -> dict:
    import torch
    import torch.nn.functional as F

    from comet_zoo.core.config import CometConfig
    from comet_zoo.core.model import COMET

    torch.set_flush_denormal(True)  # as the Trainer does
    torch.manual_seed(0)
    settings = dict(CASES[case])
    default_batch = settings.pop("batch")
    batch = batch_override or default_batch
    engine = lever(variant)
    if engine.get("fullres"):
        settings.update(stem="conv", stem_stride=1)
    fmt = torch.channels_last if engine.get("channels_last") else torch.contiguous_format
    model = COMET(CometConfig(**settings)).to(device).to(memory_format=fmt)
    if engine.get("compile"):
        model.compile()   # the descent steps without a training graph run torch.compile'd
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, settings["image_size"], settings["image_size"], device=device)
    x = x.contiguous(memory_format=fmt)
    m = engine.get("micro_batch") or batch
    bf16 = bool(engine.get("bf16"))

    def generate(z, x0):
        # bf16free = train.precision "bf16-descent": bf16 in the steps that keep no graph only
        return model.generate(z, x0=x0, grad_steps=1, bf16_free_steps=bool(engine.get("bf16free")))

    def step() -> float:
        x0 = torch.rand(x.shape, device=device).contiguous(memory_format=fmt)   # the same draws in any layout
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for i in range(0, batch, m):   # Trainer.train_step's micro-batch loop
            xi = x[i:i + m]
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):   # as Trainer.loss
                x_n = generate(model.infer(xi, refine=0), x0[i:i + m])
            loss = F.mse_loss(x_n.float(), xi) * (len(xi) / batch)
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return total

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    first_loss = step()  # warm-up: allocator, kernels; the same weights, x and x_0 for every variant
    sync()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    sync()
    seconds = (time.perf_counter() - t0) / steps
    cpu_seconds = (time.process_time() - c0) / steps
    top = top_operators(step) if profile else None
    result = {
        "impl": "comet-zoo", "case": case, "variant": variant, "device": device, "threads": torch.get_num_threads(),
        "batch": batch, "image_size": settings["image_size"], "K": settings["num_components"],
        "latent": settings["latent_dim"], "width": settings["width"], "N": settings["steps"],
        "encoder": settings["encoder"], "s_per_step": round(seconds, 4), "img_per_s": round(batch / seconds, 2),
        "cpu_s_per_step": round(cpu_seconds, 4), "img_per_cpu_s": round(batch / cpu_seconds, 3),
        "first_step_loss": round(first_loss, 7),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "timed_steps": steps,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    if top is not None:
        result["profile_self_cpu_share"] = top
    if device.startswith("cuda"):
        result["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        result["gpu"] = torch.cuda.get_device_name()
    return result


def top_operators(step, n: int = 8) -> dict:
    """One more step under torch.profiler: the n operators with the most self CPU time, as shares."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    return {e.key: round(e.self_cpu_time_total / total, 3) for e in events[:n]}


def run_official(case: str, args) -> dict:
    """The official step, unedited, through the anchor harness; one JSON line back."""
    anchors = Path(args.anchors)
    scratch = Path(os.environ.get("COMET_OFFICIAL_DIR", "/tmp/comet_official"))
    if not (scratch / "models.py").is_file():
        if not args.official_mirror:
            return {"impl": "official", "case": case,
                    "error": ["no official code: pass --official-mirror PATH (a git mirror of github.com/yilundu/comet)"]}
        fetched = subprocess.run(["bash", str(anchors / "fetch_official.sh"), args.official_mirror, str(scratch)],
                                 capture_output=True, text=True)
        if fetched.returncode != 0:
            return {"impl": "official", "case": case, "error": fetched.stderr.strip().splitlines()[-1:]}
    batch = args.batch or CASES[case]["batch"]
    cmd = [sys.executable, str(anchors / "official_bench.py"), "--official-dir", str(scratch), "--skip-gen",
           "--batch", str(batch), "--warmup", "1", "--repeats", str(args.official_steps or args.steps), "--threads", str(args.threads),
           *OFFICIAL_FLAGS[case]]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"impl": "official", "case": case, "error": out.stderr.strip().splitlines()[-1:]}
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    # CPU time per step: the harness gives the CPU/wall ratio over its warm-up and timed steps
    cpu_s = raw["train_wall_s"] * raw["train_cpu_per_wall"] / (raw["warmup"] + raw["repeats"])
    return {"impl": "official", "case": case, "commit": raw.get("commit"), "threads": raw["threads"], "batch": batch,
            "s_per_step": raw["train_step_s_median"], "s_per_step_all": raw["train_step_s_all"],
            "img_per_s": raw["train_images_per_s"], "cpu_s_per_step": round(cpu_s, 3),
            "img_per_cpu_s": round(batch / cpu_s, 3), "peak_rss_mb": raw["peak_rss_mb_train"],
            "loadavg_1m_start_end": raw["loadavg_1m_start_end"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="paper64")
    parser.add_argument("--variants", default="base")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, help="override every case's batch size")
    parser.add_argument("--official", action="store_true", help="time the official code first, in this job")
    parser.add_argument("--official-mirror", default=os.environ.get("COMET_OFFICIAL_MIRROR", ""),
                        help="git mirror or checkout of github.com/yilundu/comet (default $COMET_OFFICIAL_MIRROR)")
    parser.add_argument("--official-steps", type=int, default=None,
                        help="timed official steps (default --steps; each takes ~12 s and 15 GB at paper64)")
    parser.add_argument("--anchors", default=str(Path(__file__).resolve().parents[2] / "shared" / "anchors"),
                        help="folder of fetch_official.sh and official_bench.py")
    parser.add_argument("--profile", action="store_true", help="add each variant's top operators")
    parser.add_argument("--_one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:  # child process: one case, one variant
        import torch

        torch.set_num_threads(args.threads)
        case, variant = args._one.split("/")
        print(json.dumps(run_case(case, variant, args.steps, args.device, args.batch, args.profile)), flush=True)
        return
    for case in args.cases.split(","):
        if case not in CASES:
            sys.exit(f"unknown case {case!r}; known: {', '.join(CASES)}")
        official = None
        if args.official:
            official = run_official(case, args)
            print(json.dumps(official), flush=True)
        for variant in args.variants.split(","):
            lever(variant)
            cmd = [sys.executable, __file__, "--_one", f"{case}/{variant}", "--steps", str(args.steps),
                   "--device", args.device, "--threads", str(args.threads)]
            cmd += ["--batch", str(args.batch)] if args.batch else []
            cmd += ["--profile"] if args.profile else []
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            if out.returncode != 0:
                reason = out.stderr.strip().splitlines()[-1:] or [f"killed by signal {-out.returncode}"]
                print(json.dumps({"impl": "comet-zoo", "case": case, "variant": variant, "error": reason}), flush=True)
                continue
            ours = json.loads(out.stdout.strip())
            print(json.dumps(ours), flush=True)
            if official and "error" not in official:
                print(json.dumps({"ratio": case, "variant": variant,
                                  "img_per_s_vs_official": round(ours["img_per_s"] / official["img_per_s"], 2),
                                  "img_per_cpu_s_vs_official": round(ours["img_per_cpu_s"] / official["img_per_cpu_s"], 2),
                                  "peak_rss_vs_official": round(ours["peak_rss_mb"] / official["peak_rss_mb"], 3)}),
                      flush=True)


if __name__ == "__main__":
    main()
