"""One process of a torchrun launch for tests/test_distributed.py: `fit` jobs on the tiny Blobs problem under DDP.

    torchrun --standalone --nproc_per_node 2 tests/ddp_worker.py OUT JOB [JOB ...]

Jobs: plain (no augmentation, no dropout: must equal one process), augmented (noise, dropout, batch norm),
crash (augmented, process 1 fails in epoch 3), resume (augmented, resumes crash's checkpoint), qat (a PT2E QAT
graph). Each job's checkpoint is OUT/<job>.pt (crash and resume share OUT/resumed.pt). Every torch.save prints
the rank that made it; after every job the processes check that their weights are the same.
"""
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from tinyzoo.common import distributed
from tinyzoo.common.train import fit

from tests.test_train import CFG, Blobs, model

_save = torch.save


def logged_save(obj, path, *args, **kwargs):
    if isinstance(path, (str, Path)):   # not the in-memory pickling of collectives
        print(f"SAVED rank={distributed.rank()} {path}", flush=True)
    return _save(obj, path, *args, **kwargs)


torch.save = logged_save


def augmented_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                               torch.nn.Dropout(0.2), torch.nn.Linear(16, 3))


def noise(x, y, generator=None):
    return x + 0.3 * torch.randn(x.shape, generator=generator), y


def crash_in_epoch_three_on_process_one(x, y, generator=None, calls=[0]):
    calls[0] += 1
    if distributed.rank() == 1 and calls[0] == 2 * 10 + 3:   # 10 batches per epoch
        raise RuntimeError("process 1 interrupted")
    return noise(x, y, generator)


def qat_model():
    from tinyzoo.common.quantize import prepare_qat

    torch.manual_seed(0)
    float_model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    # a static-batch QAT graph: each process trains its share of the global batch
    return prepare_qat(float_model, (torch.randn(1, 8),), target="ethos-u55-128",
                       batch_size=CFG["batch_size"] // distributed.world_size())


def same_weights_everywhere(trained: torch.nn.Module) -> None:
    flat = torch.cat([p.detach().float().flatten() for p in trained.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(distributed.world_size())]
    dist.all_gather(gathered, flat)
    if not all(torch.equal(gathered[0], g) for g in gathered):
        raise SystemExit("the processes' parameters differ after training")


def main(out: Path, jobs: list[str]) -> None:
    distributed.init()
    quiet = lambda *_: None
    data = Blobs(301)    # 9 batches of 32 and one of 13: the last batch splits 7 + 6
    for job in jobs:
        if job == "plain":
            trained = model()
            fit(trained, data, CFG, out / "plain.pt", log_fn=quiet)
        elif job in ("augmented", "crash", "resume"):
            trained = augmented_model()
            transform = crash_in_epoch_three_on_process_one if job == "crash" else noise
            fit(trained, data, CFG, out / ("augmented.pt" if job == "augmented" else "resumed.pt"),
                batch_transform=transform, log_fn=quiet)
        elif job == "qat":
            trained = qat_model()
            fit(trained, data, {**CFG, "epochs": 2, "lr": 0.001}, out / "qat.pt", log_fn=quiet, drop_last=True)
        else:
            raise SystemExit(f"unknown job {job}")
        same_weights_everywhere(trained)
    distributed.cleanup()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
