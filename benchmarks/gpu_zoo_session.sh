#!/usr/bin/env bash
# One GPU lease, used whole: every zoo model and the time-to-quality GPU cases train
# side by side on one GPU for MINUTES of training each (these models are small, so a
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

# Time to quality (issue 8) and zoo candidates (issue 9).
ttq clevr32-b32 clevr32
ttq clevr32-b128 clevr32 --set train.batch_size=128
ttq clevr64-b32 clevr64
ttq lighting-b64 clevr-lighting --set train.batch_size=64 --set train.lr=5e-4 --set train.warmup=200
ttq toy-b64 clevr-toy --set train.batch_size=64
ttq tetrominoes-b64 tetrominoes --set train.batch_size=64
ttq falcor-b32 falcor
# The CPU zoo run of clevr (step 4200), continued on the GPU with its own recipe.
if [ -f zoo-runs/clevr/checkpoint.safetensors ]; then
  mkdir -p runs/gpu/clevr-zoo-resume && cp zoo-runs/clevr/checkpoint.safetensors runs/gpu/clevr-zoo-resume/
  ttq clevr-zoo-resume clevr32 --resume
fi
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
