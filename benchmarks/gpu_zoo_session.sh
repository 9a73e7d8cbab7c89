#!/usr/bin/env bash
# One GPU lease, used whole: the binding levers and zoo candidates train side by side
# on one GPU for MINUTES of training each (these models are small, so a
# single run leaves the GPU mostly idle between kernel launches; several share it).
#
#   bash benchmarks/gpu_zoo_session.sh [MINUTES] [OUT]
#
# Each run folder (checkpoint, exported model, JSON-line curve, stdout) lands in
# runs/gpu and is packed into OUT (default $OUT or runs/gpu-out) as runs-gpu.tgz.part-*
# (<= 15 MB each). Continue any run on any machine with --resume.
set -u
MINUTES=${1:-6}
PACK=${2:-${OUT:-runs/gpu-out}}
HARD=$(python3 -c "print(int($MINUTES * 60 + 150))")   # render + evals + export on top of training
mkdir -p runs/gpu "$PACK"
DEVICE=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc --all; python3 -c "import torch; print(torch.__version__, torch.cuda.is_available())"; } \
  | tee runs/gpu/machine.txt
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . >runs/gpu/install.log 2>&1 \
  || { echo "install failed"; tail -5 runs/gpu/install.log; }

ttq() {  # NAME CASE [--set ...]
  local name=$1 case=$2; shift 2
  timeout -s INT -k 40 "$HARD" python3 benchmarks/time_to_quality.py --case "$case" --minutes "$MINUTES" --name "$name" \
    --out runs/gpu --device "$DEVICE" --eval-every 60 "$@" >"runs/gpu/$name.out" 2>&1 &
}

# The binding levers of clevr32 (issue 14), one run each, all on the same GPU: the
# paper's pool stem, FiLM without the +1 offset, the slot encoder, the step size λ,
# N and the batch. Every curve logs the paper's argmax read-out and CLEAN (*_clean).
ttq base clevr32
ttq pool clevr32 --set model.stem=pool
ttq pool-film0 clevr32 --set model.stem=pool --set model.film_offset=0
ttq slot clevr32 --set model.stem=pool --set model.encoder=slot
ttq lambda2000 clevr32 --set model.stem=pool --set model.step_size=2000
ttq lambda4000 clevr32 --set model.stem=pool --set model.step_size=4000
ttq n3 clevr32 --set model.stem=pool --set model.steps=3
ttq b64 clevr32 --set model.stem=pool --set train.batch_size=64
ttq langevin clevr32 --set model.stem=pool --set train.sampler=langevin
# The CPU rounds 3-4 (docs/time_to_quality.md): FiLM without offset and λ 2000 on the slot encoder (unstable together on the CPU).
ttq slot-film0-l2000 clevr32 --set model.stem=pool --set model.encoder=slot --set model.film_offset=0 --set model.step_size=2000
ttq slot-film0-l2000-curriculum clevr32 --set model.stem=pool --set model.encoder=slot --set model.film_offset=0 \
  --set model.step_size=2000 --set train.curriculum_steps=1500
ttq slot-film0-l2000-b64 clevr32 --set model.stem=pool --set model.encoder=slot --set model.film_offset=0 \
  --set model.step_size=2000 --set train.batch_size=64
# Zoo candidates on the same recipe family: the paper-shaped 64 px CLEVR and the others.
ttq clevr64-pool clevr64 --set model.stem=pool
ttq tetrominoes-slot tetrominoes --set model.encoder=slot --set train.batch_size=64
ttq lighting-slot clevr-lighting --set model.stem=pool --set model.encoder=slot --set train.batch_size=64
# The new zoo model clevr64 (issue 15) from its bundled recipe, resumable from runs/gpu/clevr64.
timeout -s INT -k 40 "$HARD" comet train clevr64 --out runs/gpu/clevr64 --device "$DEVICE" \
  --time-limit "$MINUTES" >runs/gpu/clevr64.out 2>&1 &
# Slot Attention for Table 1, the same wall time on the same GPU.
timeout -s INT -k 40 "$HARD" comet train slot-attention-clevr --out runs/gpu/slot-attention --device "$DEVICE" \
  --steps 1000000 --time-limit "$MINUTES" >runs/gpu/slot-attention.out 2>&1 &

sleep 30; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv >runs/gpu/gpu_util.txt
wait
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >>runs/gpu/gpu_util.txt

for f in runs/gpu/*.jsonl; do echo "== $f"; tail -n 2 "$f"; done
for f in runs/gpu/*.out; do echo "== $f"; tail -n 3 "$f" | cut -c1-300; done
tar czf - runs/gpu | split -b 15m - "$PACK/runs-gpu.tgz.part-"
ls -la "$PACK"
