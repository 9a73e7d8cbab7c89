"""Data-parallel training across processes: gloo on CPU, NCCL on GPU.

A run is defined by its global batch and seed: every rank draws the same global
batch (indices and x_0) from the run's generator and trains on its own slice,
and gradients are averaged with one all-reduce per step. So 1 process with batch
32 and 2 processes with batch 16 each compute the same losses and weights, up to
the order of float additions.

`launch` starts N local workers the way torchrun does (RANK, WORLD_SIZE,
MASTER_ADDR/PORT in the environment); under a real `torchrun` the same
environment is already there and `init_from_env` just joins the group.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import torch
import torch.distributed as dist

from ..errors import CometError


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group described by torchrun-style environment variables, if any."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":  # one GPU per rank, chosen before NCCL starts
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=timedelta(seconds=int(os.environ.get("COMET_DIST_TIMEOUT", "300"))))
    return world()


def all_reduce_mean(tensors: list[torch.Tensor]) -> None:
    """Average tensors across ranks in place, as one flat buffer (one collective)."""
    rank, size = world()
    if size == 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for t in tensors:
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


def from_rank0(values: list[float], device: torch.device) -> list[float]:
    """Rank 0's values on every rank: for decisions that all ranks must take at the same
    step but that one clock makes (time budgets, signals)."""
    if world()[1] == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return t.tolist()


def shutdown(clean: bool = False) -> None:
    """Leave the process group. After a clean run every rank first waits for the others
    (rank 0 still exports the model), so no rank tears gloo down under a peer that is
    still in it; after a failure the rank leaves at once and the launcher stops the rest."""
    if dist.is_available() and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(argv: list[str], nproc: int, program: list[str] | None = None) -> None:
    """Run `python -m comet_zoo.cli.main *argv` (or `*program *argv`) as `nproc` ranks; stop all if one fails."""
    if nproc < 1:
        raise CometError(f"--nproc must be >= 1, got {nproc}")
    port = _free_port()
    threads = max(1, (os.cpu_count() or 1) // nproc)
    procs = []
    for rank in range(nproc):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(nproc),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(threads))}
        # Rank 0 keeps the terminal (progress bar); the others report only failures.
        stderr = None if rank == 0 else subprocess.PIPE
        stdout = None if rank == 0 else subprocess.DEVNULL
        procs.append(subprocess.Popen([*(program or [sys.executable, "-m", "comet_zoo.cli.main"]), *argv], env=env,
                                      stdout=stdout, stderr=stderr, text=True))
    failed = None
    while failed is None and any(p.poll() is None for p in procs):
        failed = next((r for r, p in enumerate(procs) if p.poll() not in (None, 0)), None)
        time.sleep(0.2)
    if failed is None:
        failed = next((r for r, p in enumerate(procs) if p.returncode != 0), None)
    if failed is not None:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        detail = ""
        if procs[failed].stderr is not None:
            lines = [line for line in procs[failed].stderr.read().splitlines() if line.strip()]
            detail = f": {lines[-1]}" if lines else ""
        raise CometError(f"rank {failed} of {nproc} failed (exit {procs[failed].returncode}){detail}; all ranks stopped")
