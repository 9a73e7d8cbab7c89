"""Write random 64-px crops of the two photographs that ship with scikit-learn
(`sklearn.datasets.load_sample_images`: a Chinese temple and a flower) as a folder of
PNG files: real photographs, not renders, for a smoke run of `comet train --data`.

    python benchmarks/sample_photos.py --out photos --n 1200
    comet train --data photos --size 64 --components 4 --out runs/photos --time-limit 10

Prints one JSON line: the folder, the number of crops per photo and their size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("photos"))
    parser.add_argument("--n", type=int, default=1200, help="crops in all, half from each photo")
    parser.add_argument("--crop", type=int, default=64, help="side of a crop in the photo's pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from sklearn.datasets import load_sample_images

    data = load_sample_images()
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    per = args.n // len(data.images)
    for photo, name in zip(data.images, data.filenames):
        stem = Path(name).stem                                                 # china, flower
        h, w, _ = photo.shape                                                  # 427 x 640 x 3, uint8
        for i in range(per):
            top, left = rng.integers(0, h - args.crop + 1), rng.integers(0, w - args.crop + 1)
            crop = photo[top:top + args.crop, left:left + args.crop]
            Image.fromarray(crop).save(args.out / f"{stem}_{i:04d}.png")
    print(json.dumps({"folder": str(args.out), "photos": [Path(n).stem for n in data.filenames],
                      "crops_per_photo": per, "crop_px": args.crop}))


if __name__ == "__main__":
    main()
