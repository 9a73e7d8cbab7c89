"""Dataset rendering speed: images per second of `generate` for each dataset plugin.

    python benchmarks/render.py [--datasets clevr,clevr-lighting,...] [--n 2048] [--repeats 3]

One JSON line per dataset: the best of `repeats` timed runs of generate("train", n)
(a warm-up run first), at the dataset's default size (64×64 for the scenes, 35×35
for tetrominoes). The target is >= 1000 images/s for clevr on a 2-core CPU.
`cpu_seconds` (process CPU time) and `load_1min` tell a busy machine from a slow renderer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

DEFAULT = "clevr,clevr-lighting,clevr-toy,tetrominoes,falcor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DEFAULT)
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from comet_zoo import registry

    for name in args.datasets.split(","):
        dataset = registry.load("datasets", name)()
        dataset.generate("train", 64, 1)                       # warm-up: imports, caches
        best, cpu = float("inf"), float("inf")
        for r in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            scenes = dataset.generate("train", args.n, 100 + r)
            best = min(best, time.perf_counter() - t0)
            cpu = min(cpu, time.process_time() - c0)
        h, w = scenes.images.shape[2:]
        print(json.dumps({"dataset": name, "size": f"{w}x{h}", "images": args.n,
                          "seconds": round(best, 3), "images_per_s": round(args.n / best, 1),
                          "cpu_seconds": round(cpu, 3),
                          "cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2),
                          "machine": platform.machine()}), flush=True)


if __name__ == "__main__":
    main()
