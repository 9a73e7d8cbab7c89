#!/usr/bin/env bash
# From a trained run to what a zoo version's card needs: the evaluation (500 test renders,
# with baselines and what each component wins) and the two card figures. Then write
# cards/NAME.yaml from the printed tables, and push (the last lines say how).
#
#   bash zoo-runs/release.sh NAME MODEL_DIR DATASET VERSION
#   bash zoo-runs/release.sh clevr runs/ttq14e/pool-slot-curriculum1500/model clevr v5
#
# The figures decompose the current version's exemplars 0 and 1 (the same test renders:
# exemplars come from the recipe's data set and seed), so versions are compared on one scene.
set -euo pipefail
name=$1 model=$2 dataset=$3 version=$4
current=$(ls -d comet_zoo/zoo/"$name"/v* | sort -V | tail -1)
report="$(dirname "$model")/eval-$version.json"

comet eval "$model" --dataset "$dataset" --n 500 --json "$report"
comet decompose "$model" "$current/exemplars/0.png" -o "docs/zoo/$name-decompose.png"
comet recombine "$model:$current/exemplars/0.png" "$model:$current/exemplars/1.png" -o "docs/zoo/$name-recombine.png"
echo
echo "figures: docs/zoo/$name-decompose.png docs/zoo/$name-recombine.png; report: $report"
echo "next: name the concepts in cards/$name.yaml from the table above, then"
echo "  comet push $model --as $name --version $version --card cards/$name.yaml --fp16 --eval $report --hub file://comet_zoo/zoo"
echo "  git mv $current zoo-archive/$name/   # the wheel ships the newest version only"
