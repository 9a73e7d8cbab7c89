"""What `comet compose` costs, from process start to the PNG on disk.

    python benchmarks/compose.py [--repeats 5] [--device cpu|cuda] [--all]

One JSON line per case:
- `import_torch`: `python -c "import torch"`, the floor every torch program pays;
- `comet_help`: `comet --help`, the start-up of the command line;
- `compose_cold` / `compose_warm`: the README's main job, `comet compose clevr:obj2
  clevr-lighting:light0 -o out.png`, with an empty cache (the models are copied from the
  bundled zoo and verified) and with them cached; `over_torch_s` is the median excess over
  `import_torch`;
- `compose_split`: the same work in-process, timed by phase (imports, model load and
  latents, sampling, save);
- `compose_inprocess`: a warm Composer of the main job's two concepts, images/s at batch 1
  and batch 64 (the default 4N descent steps);
- `batched_terms` (with --all, or on CUDA): images/s of batched composition with 2, 8 and
  32 terms from 2 models.
Medians of `--repeats` runs; the machine's load is recorded with each line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPECS = ["clevr:obj2", "clevr-lighting:light0"]


def wall(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def emit(**fields) -> None:
    fields["load_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(fields), flush=True)


def split(out: Path, device: str) -> dict:
    """In a fresh process: time imports, model load, sampling and saving separately."""
    code = f"""
import json, time
t0 = time.perf_counter()
import torch
from comet_zoo.composer import Composer
from comet_zoo.data.images import grid, save_png
t1 = time.perf_counter()
c = Composer.from_specs({SPECS!r}, device={device!r})
t2 = time.perf_counter()
x = c.sample(1, seed=0)
if {device!r} != "cpu": torch.cuda.synchronize()
t3 = time.perf_counter()
save_png(grid(x, nrow=1, pad=0), {str(out)!r})
t4 = time.perf_counter()
print(json.dumps({{"imports_s": t1 - t0, "load_s": t2 - t1, "sample_s": t3 - t2, "save_s": t4 - t3}}))
"""
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def timed_samples(composer, batch: int, repeats: int, device: str) -> float:
    """Median seconds of composer.sample(batch), after one warm-up."""
    import torch

    composer.sample(batch, seed=0)
    times = []
    for r in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        composer.sample(batch, seed=r)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def inprocess(device: str, repeats: int) -> None:
    import torch

    from comet_zoo.composer import Composer

    composer = Composer.from_specs(SPECS, device=device)
    for batch in (1, 64):
        med = timed_samples(composer, batch, repeats, device)
        emit(case="compose_inprocess", device=device, threads=torch.get_num_threads(), batch=batch,
             canvas=composer.size, steps=4 * composer.steps, s_per_batch=round(med, 4), images_per_s=round(batch / med, 2))


def batched_terms(device: str, repeats: int) -> None:
    import torch

    from comet_zoo.composer import Composer, Term

    base = Composer.from_specs(SPECS, device=device)
    models = base.models
    keys = list(models)
    for n_terms in (2, 8, 32):
        terms = []
        for i in range(n_terms):
            key = keys[i % 2]
            k = i % models[key].config.num_components
            terms.append(Term(key, k, base.terms[i % 2].latent, 1.0 / n_terms))
        composer = Composer(models, terms, device=device)
        for batch in (1, 16):
            med = timed_samples(composer, batch, repeats, device)
            emit(case="batched_terms", device=device, terms=n_terms, batch=batch, steps=composer.steps,
                 s_per_batch=round(med, 4), images_per_s=round(batch / med, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    comet = [sys.executable, "-m", "comet_zoo.cli.main"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.png"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        env.pop("COMET_HUB", None)
        torch_s = [wall([sys.executable, "-c", "import torch"], env) for _ in range(args.repeats)]
        emit(case="import_torch", median_s=round(statistics.median(torch_s), 3), runs=[round(t, 3) for t in torch_s])
        help_s = [wall(comet + ["--help"], env) for _ in range(args.repeats)]
        emit(case="comet_help", median_s=round(statistics.median(help_s), 3), runs=[round(t, 3) for t in help_s])
        cold, warm = [], []
        for r in range(args.repeats):
            env["COMET_HOME"] = str(Path(tmp) / f"home{r}")
            cold.append(wall(comet + ["compose", *SPECS, "-o", str(out), "--device", args.device], env))
            warm.append(wall(comet + ["compose", *SPECS, "-o", str(out), "--device", args.device], env))
        floor = statistics.median(torch_s)
        for name, runs in (("compose_cold", cold), ("compose_warm", warm)):
            emit(case=name, specs=SPECS, median_s=round(statistics.median(runs), 3),
                 over_torch_s=round(statistics.median(runs) - floor, 3), runs=[round(t, 3) for t in runs])
        os.environ.update(env)
        phases = [split(out, args.device) for _ in range(args.repeats)]
        emit(case="compose_split", **{k: round(statistics.median(p[k] for p in phases), 3) for k in phases[0]})
        inprocess(args.device, args.repeats)
        if args.device != "cpu" or "--all" in sys.argv:
            batched_terms(args.device, args.repeats)


if __name__ == "__main__":
    main()
