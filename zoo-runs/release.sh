#!/usr/bin/env bash
# From a trained run to what a zoo version's card needs: the evaluation (500 test renders,
# with baselines and what each component wins) and the two card figures. Then write
# cards/NAME.yaml from the printed tables, and push (the last lines say how).
#
#   bash zoo-runs/release.sh NAME MODEL_DIR DATASET VERSION [READOUT]
#   bash zoo-runs/release.sh clevr runs/ttq14e/pool-slot-curriculum1500/model clevr v5
#   bash zoo-runs/release.sh tetrominoes runs/s19/tetro/best tetrominoes v5 smooth
#
# READOUT (default clean) is `comet eval --readout`: `smooth` for a background the energy reacts
# to most (Tetrominoes' black, docs/segmentation_readout.md). `comet push --eval` records it on the
# card, and `comet eval` of the pushed model then reads that way by default.
#
# The figures decompose the current version's exemplars 0 and 1 (the same test renders:
# exemplars come from the recipe's data set and seed), so versions are compared on one scene.
set -euo pipefail
name=$1 model=$2 dataset=$3 version=$4 readout=${5:-clean}
current=$(ls -d comet_zoo/zoo/"$name"/v* 2>/dev/null | sort -V | tail -1 || true)
report="$(dirname "$model")/eval-$version.json"
scenes="$current/exemplars"
if [ -z "$current" ]; then
    # A first version: the test renders its exemplars will be (the recipe's data set, options and seed).
    scenes="$(dirname "$model")/first-exemplars"
    python - "$model" "$scenes" <<'PY'
import json, sys
from pathlib import Path

from comet_zoo.publish import recipe_test_scenes, save_exemplar
from comet_zoo.train.recipe import Recipe

model, out = Path(sys.argv[1]), Path(sys.argv[2])
size = json.loads((model / "config.json").read_text())["image_size"]
out.mkdir(parents=True, exist_ok=True)
for i, image in enumerate(recipe_test_scenes(Recipe.load(model / "recipe.json"), size, 2)):
    save_exemplar(image, out / f"{i}.png")
PY
fi

comet eval "$model" --dataset "$dataset" --n 500 --readout "$readout" --json "$report"
comet decompose "$model" "$scenes/0.png" -o "docs/zoo/$name-decompose.png"
comet recombine "$model:$scenes/0.png" "$model:$scenes/1.png" -o "docs/zoo/$name-recombine.png"
echo
echo "figures: docs/zoo/$name-decompose.png docs/zoo/$name-recombine.png; report: $report"
echo "next: name the concepts in cards/$name.yaml from the table above, then"
echo "  comet push $model --as $name --version $version --card cards/$name.yaml --fp16 --eval $report --hub file://comet_zoo/zoo"
[ -z "$current" ] || echo "  git mv $current zoo-archive/$name/   # the wheel ships the newest version only"
