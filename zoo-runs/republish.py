"""A new version of a bundled zoo model from its newest version's weights: the same weights,
config and measurements, a card regenerated from cards/NAME.yaml, and whatever the current
artifact format adds (such as the exemplars' stored latents).

    python zoo-runs/republish.py NAME [NAME ...]

For each NAME: comet_zoo/zoo/NAME/vN → comet_zoo/zoo/NAME/v(N+1), then vN moves to
zoo-archive/NAME/ (the wheel ships the newest version only). The measurements are carried
over from vN's card (its model-index and read-out): the weights are the same, so `comet
eval` would give the same numbers. Nothing is retrained or re-evaluated.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "comet_zoo" / "zoo"


def carried_report(card_path: Path, dataset: str) -> dict:
    """A `comet eval --json`-shaped report whose flat metrics are the card's own."""
    from huggingface_hub import ModelCard

    card = ModelCard.load(card_path, ignore_metadata_errors=True)
    data = card.data.to_dict()
    flat = {r.metric_type: r.metric_value for r in (card.data.eval_results or [])}
    n = re.search(r"`comet eval` on (\d+) (\w+) scenes", card.text)
    report = {"reconstruction": flat,
              "dataset": {"name": dataset, "split": n.group(2) if n else "test", "n": int(n.group(1)) if n else None}}
    if data.get("segmentation_readout"):
        report["segmentation"] = {"readout": data["segmentation_readout"]}
    return report


def republish(name: str) -> str:
    from comet_zoo import publish
    from comet_zoo.hub.cards import read_card
    from comet_zoo.hub.names import sort_versions

    versions = sort_versions(p.name for p in (ZOO / name).iterdir() if p.is_dir())
    current = ZOO / name / versions[-1]
    version = f"v{int(versions[-1][1:]) + 1}"
    dataset = read_card(current).dataset or name
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        for f in ("model.safetensors", "config.json"):
            shutil.copyfile(current / f, model_dir / f)
        publish.push(model_dir, name, version, hub=f"file://{ZOO}", card_source=ROOT / "cards" / f"{name}.yaml",
                     fp16=(current / publish.FP16_VARIANT).is_file(),
                     eval_report=carried_report(current / "README.md", dataset))
    archive = ROOT / "zoo-archive" / name
    archive.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "mv", str(current), str(archive / current.name)], cwd=ROOT, check=True)
    return f"{name}@{version}"


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(republish(arg), flush=True)
