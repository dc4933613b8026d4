"""Training on several processes with PyTorch's own launcher (torchrun) and DistributedDataParallel.

torchrun starts one process per device and tells each its place (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT); `init()` joins them into one process group: gloo on CPUs, nccl on GPUs. Without torchrun, or with
one process, nothing is initialised and every helper answers as for one process, so a plain build runs exactly
as before. Process 0 does everything but the training (data synthesis, checkpoints, quantization, lowering,
verification, the card); the others train with it and stop when training ends.
"""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

import torch
import torch.distributed as dist


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init() -> int:
    """Join the process group torchrun describes (once); returns the world size (1 without torchrun)."""
    if launched() and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank())
            dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank()))
        else:
            dist.init_process_group("gloo")
    return world_size()


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    """This process's global rank: the group's while it is joined, torchrun's RANK after `cleanup()`."""
    return dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (training is over); `rank()` and `is_main()` keep answering."""
    if dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def main_first():
    """Process 0 runs the block first (synthesising or caching data); the others wait at a barrier, then run it
    and read what process 0 wrote."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def device() -> torch.device:
    """The device this process trains on: its own GPU under torchrun, else the GPU if there is one, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank()) if dist.is_initialized() else torch.device("cuda")


def devices(train_device: torch.device) -> str:
    """What trained, for the metrics and the card: e.g. "2 x CPU (gloo)", "8 x NVIDIA H100 80GB HBM3 (nccl)"."""
    name = torch.cuda.get_device_name(train_device) if train_device.type == "cuda" else "CPU"
    backend = f" ({dist.get_backend()})" if dist.is_initialized() else ""
    return f"{world_size()} x {name}{backend}"


def launch_command(nproc: int, module_args: list[str]) -> list[str]:
    """torchrun for one machine running `python -m <module_args>` in `nproc` processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", *module_args]


def launch(nproc: int, module_args: list[str]) -> int:
    """Run `python -m <module_args>` in `nproc` processes on this machine under torchrun; its exit code. Each
    process gets an equal share of the CPU threads unless OMP_NUM_THREADS is set."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    return subprocess.call(launch_command(nproc, module_args), env=env)
