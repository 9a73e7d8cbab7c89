"""How close a training step and a compose descent step come to what the CPU can do.

    python benchmarks/flops_limit.py [--cases train_paper64,compose_clevr_b1,...] [--threads 1]
                                     [--layouts contiguous,channels_last] [--repeats 3]

One JSON line per (case, layout). Each runs in a fresh process (its peak RSS is its own) that
first measures the machine's peak at the same thread count, then the step:

- FLOPs of one step, counted by torch.utils.flop_counter (convolutions and matmuls, forward,
  backward and double backward; elementwise work is not counted), with the convolutions
  counted again by hand from the net's shapes as a cross-check (`conv_gflop_analytic`);
- the peak: a lone 3x3 convolution of the net's dominant shape (forward alone, and forward +
  input and weight gradients) and a plain matmul of the same im2col shape;
- achieved GFLOP/s over each peak, as a fraction. Time is CPU time of the process
  (time.process_time, all threads together) and wall time; the CPU-time fraction is the one
  that holds on a loaded machine (another process on the core does not count), the wall
  fraction the one a quiet machine would show. Both numerator and denominator are measured
  in this process, at this thread count, minutes apart;
- memory: peak RSS of the process, the peak of live tensors (torch.profiler's allocation
  events), the tensors autograd holds when the loss is back-propagated, and the analytic size
  of the activations the graph-kept step must keep (`kept_analytic_mb`, counted below);
- the load: the 1-minute load average, and how many cores other processes used during the
  timed steps (`others_cores`, from /proc/stat minus this process's own CPU time).

Cases:
    train_paper64         the paper's shape (benchmarks/train_step.py `paper64`): 64², batch 16,
                          K 4, latent 64, width 64, N 10; one Adam step of Algorithm 1
                          (encoder, N descent steps of which the last keeps its graph, MSE,
                          backward, clip, Adam), as Trainer.train_step does it
    compose_M_bB          one descent step of the composer (energy of two terms of bundled
                          model M on its native canvas, and its gradient in the canvas) at
                          batch B: M in clevr, clevr64; B in 1, 64

Levers for the training case: `--layouts` (contiguous, channels_last), `--bf16` (autocast, as
train.precision bf16).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import CASES  # noqa: E402  (the paper64 shape, shared with train_step.py)

ZOO = Path(__file__).resolve().parents[1] / "comet_zoo" / "zoo"
COMPOSE_MODELS = ("clevr", "clevr64")   # bundled models; their newest version is timed
ALL_CASES = ["train_paper64"] + [f"compose_{m}_b{b}" for m in COMPOSE_MODELS for b in (1, 64)]


def newest_version(name: str) -> Path:
    """The bundled model's newest version folder (v1, v2, ... by number)."""
    versions = [p for p in (ZOO / name).iterdir() if p.is_dir() and p.name[1:].isdigit()]
    return max(versions, key=lambda p: int(p.name[1:]))


# -- the load ----------------------------------------------------------------------
def busy_jiffies() -> tuple[int, int]:
    """(non-idle, total) jiffies of the whole machine since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]        # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


class Meter:
    """CPU time of this process, wall time, and the cores the rest of the machine used meanwhile."""

    def __enter__(self):
        self.cpu, self.wall, self.busy = time.process_time(), time.perf_counter(), busy_jiffies()
        return self

    def __exit__(self, *exc):
        self.cpu_s = time.process_time() - self.cpu
        self.wall_s = time.perf_counter() - self.wall
        busy, total = busy_jiffies()
        cores = os.cpu_count() or 1
        machine_cores = (busy - self.busy[0]) / max(total - self.busy[1], 1) * cores   # mean busy cores
        self.others_cores = max(0.0, machine_cores - self.cpu_s / self.wall_s)
        return False


def timed(fn, repeats: int, warmup: int = 1, min_cpu_s: float = 1.0) -> Meter:
    """Mean of at least `repeats` calls, and of enough to take `min_cpu_s` of CPU time."""
    for _ in range(warmup):
        fn()
    t0 = time.process_time()
    fn()
    repeats = max(repeats, int(min_cpu_s / max(time.process_time() - t0, 1e-6)) + 1)
    with Meter() as m:
        for _ in range(repeats):
            fn()
    m.cpu_s /= repeats
    m.wall_s /= repeats
    m.repeats = repeats
    return m


# -- counting ----------------------------------------------------------------------
class _NoModuleTracking:
    """FlopCounterMode's module tracker hooks every module's backward, which autograd.grad
    (the descent's gradient in x) refuses; the global count needs no module names."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def count_flops(fn) -> tuple[int, dict]:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModuleTracking()
    with counter:
        fn()
    by_op = {str(k).removeprefix("aten."): v for k, v in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops(), by_op


def peak_live_tensor_bytes(fn) -> int:
    """The high-water mark of live tensor memory during fn, from torch.profiler's allocation events."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # An op's event carries the net allocation of it and its children; frees outside any op
    # come as "[memory]" events: summing the outermost ones in time order follows live memory.
    events = sorted((e.time_range.start, e.cpu_memory_usage) for e in prof.events()
                    if e.cpu_memory_usage and e.cpu_parent is None)
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    return peak


def conv_forward_flops(c_in: int, c_out: int, kernel: int, size_out: int, rows: int) -> int:
    return 2 * c_in * c_out * kernel * kernel * size_out * size_out * rows


def energy_convs(cfg, batch: int, terms: int) -> list[tuple[str, int]]:
    """The energy net's convolutions as (role, forward FLOPs) for `batch` images of `terms` rows each.

    Roles say which gradients a descent step needs: "x" convs lie on the path from the
    image (input gradient needed), "pos" is the coordinate map's conv (no image in it).
    """
    h, w, rows = cfg.image_size, cfg.width, batch * terms
    convs = []
    if cfg.stem == "pool" or cfg.stem_stride == 1:
        convs.append(("x", conv_forward_flops(3, w, 3, h, batch)))
        s = h // cfg.stem_stride
    else:
        s = h // cfg.stem_stride
        convs.append(("x", conv_forward_flops(3, w, 2 * cfg.stem_stride, s, batch)))
    widths = [w] * cfg.num_blocks + [2 * w]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        if i == 0:   # conv1 once per image, and once on the coordinate map (energy.py)
            convs += [("x", conv_forward_flops(a, a, 3, s, batch)), ("pos", conv_forward_flops(a, a, 3, s, 1))]
        else:
            convs.append(("x", conv_forward_flops(a, a, 3, s, rows)))
        convs += [("x", conv_forward_flops(a, a, 3, s, rows)), ("x", conv_forward_flops(a, b, 3, s, rows))]
        s = (s + 1) // 2
    return convs   # (pos_stem, the 1x1 conv that makes the coordinate map, ~3 MFLOP, is left out)


def encoder_conv_flops(cfg, batch: int) -> tuple[int, int]:
    """(first conv's forward FLOPs, the other convs' forward FLOPs) of the conv encoder's trunk."""
    w, size = cfg.width, cfg.image_size
    first = conv_forward_flops(3, w, 3, size, batch)
    rest = 0
    min_size = 4 if cfg.encoder == "conv" else 8
    while size > 2 * min_size:
        rest += 3 * conv_forward_flops(w, w, 3, size, batch)
        size = (size + 1) // 2
    return first, rest


def train_conv_flops_analytic(cfg, batch: int) -> int:
    """Convolution FLOPs of one training step, by hand.

    A descent step without a graph: forward F, and the input gradient (F again) of every conv
    on the image's path. The graph-kept step: forward F, input gradient F, and in the loss's
    backward 4F (the input-gradient convs' own input and weight gradients, and the forward
    convs' input and weight gradients); the coordinate map's conv forward, and its input and
    weight gradients in the loss's backward (its 1x1 pos_stem, ~3 MFLOP, is left out). The encoder: forward, input and weight gradients (its first conv: no input gradient).
    """
    convs = energy_convs(cfg, batch, cfg.num_components)
    fwd = sum(f for _, f in convs)
    on_x = sum(f for role, f in convs if role == "x")
    pos = sum(f for role, f in convs if role == "pos")
    free_steps = (cfg.steps - 1) * (fwd + on_x)
    kept_step = fwd + on_x + 4 * on_x + 2 * pos
    first, rest = encoder_conv_flops(cfg, batch)
    return free_steps + kept_step + 2 * first + 3 * rest


def compose_conv_flops_analytic(cfg, batch: int, terms: int) -> int:
    convs = energy_convs(cfg, batch, terms)
    return sum(f for _, f in convs) + sum(f for role, f in convs if role == "x")


def energy_kept_elements(cfg, batch: int, terms: int, double: bool) -> int:
    """Float elements one energy evaluation with its graph must keep for a backward pass.

    Per conv: its input (for its gradients); per swish: its input (first and second
    derivative); per FiLM: the conv output it scales (gain gradient). With `double` (the
    training step's graph-kept step, whose first backward the loss differentiates again):
    also per conv the gradient at its output and per swish the gradient at its output.
    """
    h, w, rows = cfg.image_size, cfg.width, batch * terms
    s = h // cfg.stem_stride
    stem_out = h * h if cfg.stem == "pool" or cfg.stem_stride == 1 else s * s
    n = batch * (3 * h * h + w * stem_out) + (batch * 2 * w * stem_out if double else 0)
    widths = [w] * cfg.num_blocks + [2 * w]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        act, out = a * s * s * rows, b * s * s * rows
        conv1_in = a * s * s * batch if i == 0 else act        # the first conv runs once per image
        # conv1 in, conv1 out, swish1 in, conv2 in, conv2 out, swish2 in, down in; down's swish in
        n += conv1_in + 6 * act + out
        if double:   # out-gradients of conv1, conv2, swish1, swish2 (a wide); of down and its swish (b)
            n += 4 * act + 2 * out
        s = (s + 1) // 2
    return n


def kept_bytes_analytic(cfg, batch: int) -> int:
    """Bytes (float32) the training step must hold for the loss's backward: the graph-kept
    descent step's activations and first-backward gradients, and the encoder's activations
    (per conv its input, per swish its input). A lower bound: autograd keeps more (the
    measured `saved_for_backward_mb`)."""
    n = energy_kept_elements(cfg, batch, cfg.num_components, double=True)
    h, w, size = cfg.image_size, cfg.width, cfg.image_size
    n += batch * (3 * h * h + w * h * h)                 # encoder stem conv in, swish in
    min_size = 4 if cfg.encoder == "conv" else 8
    while size > 2 * min_size:                           # ResBlocks: 3 convs and 3 swishes each
        n += batch * 6 * w * size * size
        size = (size + 1) // 2
    return 4 * n


CATEGORIES = (   # aten op name → where the time goes (first match wins)
    ("convolution", ("convolution", "conv2d", "mkldnn_convolution")),
    ("matmul", ("mm", "addmm", "bmm", "linear")),
    ("pooling", ("avg_pool2d",)),
    ("layout copies", ("copy_", "clone", "contiguous", "to_mkldnn", "_to_copy")),
    ("zero fills", ("fill_", "zero_", "zeros", "empty")),
    ("swish and its derivatives", ("silu", "sigmoid")),
    ("other elementwise", ("mul", "add", "sub", "neg", "div", "addcmul", "addcdiv", "lerp", "sqrt", "clamp",
                           "where", "pow", "mse_loss")),
    ("reductions", ("sum", "mean", "norm", "max", "min")),
)


def time_by_category(fn) -> tuple[dict, dict]:
    """CPU time of one call of fn by kind of work, as shares, and its 8 costliest ops in seconds.

    Each aten op is timed with the process's CPU clock (a dispatch mode around every op, so
    another process on the core does not count, as it would in torch.profiler's wall-clock
    times); the rest of the call's CPU time is Python, autograd and the timing itself."""
    from torch.utils._python_dispatch import TorchDispatchMode

    per_op: dict[str, float] = {}

    class OpClock(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            t0 = time.process_time()
            out = func(*args, **(kwargs or {}))
            name = func.overloadpacket.__name__
            per_op[name] = per_op.get(name, 0.0) + time.process_time() - t0
            return out

    t0 = time.process_time()
    with OpClock():
        fn()
    total = time.process_time() - t0
    shares: dict[str, float] = {}
    for name, seconds in per_op.items():
        kind = "other ops"
        for label, names in CATEGORIES:
            if any(name == n or name.startswith(n + "_") for n in names):
                kind = label
                break
        shares[kind] = shares.get(kind, 0.0) + seconds
    shares["python, autograd and other"] = max(0.0, total - sum(per_op.values()))
    top = dict(sorted(((k, round(v, 3)) for k, v in per_op.items()), key=lambda kv: -kv[1])[:8])
    return {k: round(v / total, 3) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}, top


# -- the peak ----------------------------------------------------------------------
def peaks(shape: tuple[int, int, int, int], layout: str, repeats: int, bf16: bool = False) -> dict:
    """GFLOP/s (CPU time and wall) of a lone 3x3 conv [rows, c, s, s] → c and of its im2col matmul."""
    import torch
    import torch.nn.functional as F

    rows, c, s, _ = shape
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    dtype = torch.bfloat16 if bf16 else torch.float32
    x = torch.rand(shape, dtype=dtype).contiguous(memory_format=fmt)
    weight = (torch.randn(c, c, 3, 3) * 0.05).to(dtype).contiguous(memory_format=fmt)
    bias = torch.zeros(c, dtype=dtype)
    grad = torch.rand(shape, dtype=dtype).contiguous(memory_format=fmt)
    flops = conv_forward_flops(c, c, 3, s, rows)

    def both():
        F.conv2d(x, weight, bias, padding=1)
        torch.ops.aten.convolution_backward(grad, x, weight, [c], [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                            [True, True, True])

    a = torch.rand(rows * s * s, 9 * c, dtype=dtype)
    b = torch.rand(9 * c, c, dtype=dtype)
    out = {}
    for name, fn, n_flops in (("conv3x3_fwd", lambda: F.conv2d(x, weight, bias, padding=1), flops),
                              ("conv3x3_fwd_bwd", both, 3 * flops),
                              ("matmul", lambda: a @ b, 2 * a.shape[0] * a.shape[1] * b.shape[1])):
        m = timed(fn, repeats, warmup=2)
        out[name] = {"gflops_cpu": round(n_flops / m.cpu_s / 1e9, 1), "gflops_wall": round(n_flops / m.wall_s / 1e9, 1)}
    square = torch.rand(2048, 2048, dtype=dtype)
    m = timed(lambda: square @ square, repeats, warmup=1)
    out["matmul_2048_square"] = {"gflops_cpu": round(2 * 2048**3 / m.cpu_s / 1e9, 1),
                                 "gflops_wall": round(2 * 2048**3 / m.wall_s / 1e9, 1)}
    out["shape"] = f"conv {c}->{c} 3x3 on [{rows}, {c}, {s}, {s}] {layout}; matmul [{a.shape[0]}x{a.shape[1]}] @ [{b.shape[0]}x{b.shape[1]}]"
    return out


# -- the cases ---------------------------------------------------------------------
def train_case(layout: str, bf16: bool, repeats: int) -> dict:
    import torch
    import torch.nn.functional as F

    from comet_zoo.core.config import CometConfig
    from comet_zoo.core.model import COMET

    settings = dict(CASES["paper64"])
    batch = settings.pop("batch")
    cfg = CometConfig(**settings)
    torch.manual_seed(0)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    model = COMET(cfg).to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, cfg.image_size, cfg.image_size).contiguous(memory_format=fmt)

    def step(probe=None):
        x0 = torch.rand(x.shape).contiguous(memory_format=fmt)   # the same draws in either layout
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):   # as Trainer.loss
            x_n = model.generate(model.infer(x, refine=0), x0=x0, grad_steps=1)
        loss = F.mse_loss(x_n.float(), x)
        if probe:
            probe()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    m = timed(step, repeats)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    flops, by_op = count_flops(step)
    conv_counted = by_op.get("convolution", 0) + by_op.get("convolution_backward", 0)
    conv_analytic = train_conv_flops_analytic(cfg, batch)
    saved = saved_at_backward(step)
    live = peak_live_tensor_bytes(step)
    shares = time_by_category(step)
    rows = batch * cfg.num_components
    s = cfg.image_size // cfg.stem_stride
    return dict(
        step="one Adam step of Algorithm 1 (encoder, N descent steps, the last with its graph, MSE, backward, clip, Adam)",
        config=dict(image_size=cfg.image_size, batch=batch, K=cfg.num_components, latent=cfg.latent_dim,
                    width=cfg.width, N=cfg.steps, encoder=cfg.encoder, stem=f"{cfg.stem}/{cfg.stem_stride}"),
        images_per_step=batch, meter=m, flops=flops, by_op=by_op, conv_counted=conv_counted,
        conv_analytic=conv_analytic, peak_shape=(rows, cfg.width, s, s), rss=rss, live=live,
        saved=saved, kept=kept_bytes_analytic(cfg, batch), shares=shares,
    )


def saved_at_backward(step) -> int:
    """Bytes of the distinct tensors autograd still holds when the loss's backward starts."""
    import weakref

    import torch

    refs = []

    def pack(t):
        refs.append(weakref.ref(t))
        return t

    def probe():
        seen, total = set(), 0
        for r in refs:
            t = r()
            if t is None:
                continue
            storage = t.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
        result.append(total)

    result: list[int] = []
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(probe)
    return result[0]


def compose_case(model_name: str, batch: int, layout: str, repeats: int, terms: int = 2) -> dict:
    import torch

    from comet_zoo.composer import Composer, Term
    from comet_zoo.core.model import COMET
    from comet_zoo.core.sampler import descend
    from comet_zoo.data.images import load_image

    folder = newest_version(model_name)
    model = COMET.load(folder)
    cfg = model.config
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    model.to(memory_format=fmt)
    image = load_image(folder / "exemplars" / "0.png", cfg.image_size)           # [1, 3, S, S]
    with torch.no_grad():
        z = model.encoder(image)[0]                                                  # [K, D], unrefined
    composer = Composer({model_name: model}, [Term(model_name, k, z[k]) for k in range(terms)])
    energy = composer.energy_fn(batch)
    x0 = torch.rand(batch, 3, composer.size, composer.size).contiguous(memory_format=fmt)

    def one_step():      # what `Composer.sample` does once per step: energy, gradient in x, update
        descend(energy, x0, 1, 1.0)

    m = timed(one_step, repeats)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    flops, by_op = count_flops(one_step)
    conv_counted = by_op.get("convolution", 0) + by_op.get("convolution_backward", 0)
    live = peak_live_tensor_bytes(one_step)
    shares = time_by_category(lambda: [one_step() for _ in range(10)])
    s = cfg.image_size // cfg.stem_stride
    kept = 4 * energy_kept_elements(cfg, batch, terms, double=False)   # float32 bytes
    saved = saved_in_descent(energy, x0)
    return dict(
        step=f"one compose descent step: {terms} terms of {model_name}@{folder.name}, energy and its gradient in the canvas",
        config=dict(image_size=cfg.image_size, batch=batch, terms=terms, width=cfg.width,
                    stem=f"{cfg.stem}/{cfg.stem_stride}"),
        images_per_step=batch, meter=m, flops=flops, by_op=by_op, conv_counted=conv_counted,
        conv_analytic=compose_conv_flops_analytic(cfg, batch, terms), peak_shape=(batch * terms, cfg.width, s, s),
        rss=rss, live=live, saved=saved, kept=kept, shares=shares,
    )


def saved_in_descent(energy, x0) -> int:
    """Bytes of the distinct tensors autograd holds between the energy and its gradient in x."""
    import torch

    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    x = x0.detach().requires_grad_(True)
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        e = energy(x).sum()
    torch.autograd.grad(e, x)
    return sum(seen.values())


def run_one(case: str, layout: str, bf16: bool, repeats: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)   # as the Trainer does
    load_start = os.getloadavg()[0]
    if case == "train_paper64":
        r = train_case(layout, bf16, repeats)
    else:
        _, name, b = case.split("_")
        if bf16:
            raise SystemExit("--bf16 applies to the training case only")
        r = compose_case(name, int(b[1:]), layout, repeats)
    peak = peaks(r["peak_shape"], layout, max(3, repeats), bf16=bf16)
    m = r["meter"]
    gflop = r["flops"] / 1e9
    achieved_cpu, achieved_wall = gflop / m.cpu_s, gflop / m.wall_s
    return {
        "case": case, "step": r["step"], "config": r["config"], "layout": layout,
        "precision": "bf16 autocast" if bf16 else "fp32", "threads": torch.get_num_threads(),
        "gflop_per_step": round(gflop, 3),
        "gflop_by_op": {k: round(v / 1e9, 3) for k, v in sorted(r["by_op"].items(), key=lambda kv: -kv[1])},
        "conv_gflop_counted": round(r["conv_counted"] / 1e9, 3),
        "conv_gflop_analytic": round(r["conv_analytic"] / 1e9, 3),
        "cpu_s_per_step": round(m.cpu_s, 4), "wall_s_per_step": round(m.wall_s, 4),
        "cpu_s_per_step_per_thread": round(m.cpu_s / torch.get_num_threads(), 4),
        "img_per_s_wall": round(r["images_per_step"] / m.wall_s, 2),
        "img_per_cpu_s": round(r["images_per_step"] / m.cpu_s, 2),
        "achieved_gflops_cpu": round(achieved_cpu, 1), "achieved_gflops_wall": round(achieved_wall, 1),
        "peak": peak,
        "fraction_of_conv_fwd_bwd_peak_cpu": round(achieved_cpu / peak["conv3x3_fwd_bwd"]["gflops_cpu"], 3),
        "fraction_of_conv_fwd_peak_cpu": round(achieved_cpu / peak["conv3x3_fwd"]["gflops_cpu"], 3),
        "fraction_of_matmul_peak_cpu": round(achieved_cpu / peak["matmul"]["gflops_cpu"], 3),
        "fraction_of_conv_fwd_bwd_peak_wall": round(achieved_wall / peak["conv3x3_fwd_bwd"]["gflops_wall"], 3),
        "cpu_time_shares": r["shares"][0], "costliest_ops_cpu_s": r["shares"][1],
        "peak_rss_mb": round(r["rss"] / 2**20, 1),
        "peak_live_tensors_mb": round(r["live"] / 2**20, 1),
        "saved_for_backward_mb": round(r["saved"] / 2**20, 1),
        "kept_analytic_mb": round(r["kept"] / 2**20, 1),
        "timed_steps": m.repeats, "others_cores": round(m.others_cores, 2),
        "loadavg_1m_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(), "cpu_model": cpu_model(), "torch": torch.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(ALL_CASES))
    parser.add_argument("--layouts", default="contiguous,channels_last")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the training case (train.precision bf16)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--_one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:
        case, layout = args._one.split("/")
        print(json.dumps(run_one(case, layout, args.bf16, args.repeats, args.threads)), flush=True)
        return
    for case in args.cases.split(","):
        if case not in ALL_CASES:
            sys.exit(f"unknown case {case!r}; known: {', '.join(ALL_CASES)}")
        for layout in args.layouts.split(","):
            if layout not in ("contiguous", "channels_last"):
                sys.exit(f"unknown layout {layout!r}: contiguous or channels_last")
            cmd = [sys.executable, __file__, "--_one", f"{case}/{layout}", "--threads", str(args.threads),
                   "--repeats", str(args.repeats)] + (["--bf16"] if args.bf16 else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                reason = out.stderr.strip().splitlines()[-1:] or [f"killed by signal {-out.returncode}"]
                print(json.dumps({"case": case, "layout": layout, "error": reason}), flush=True)
                continue
            print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
