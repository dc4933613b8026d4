"""The float training loop every recipe uses: seeded, with progress bars, an atomic checkpoint after every epoch
and resume from it. Batches are transformed on the fly (augmentation + front end) by the recipe's
`batch_transform(inputs, labels, generator)`, so augmentation is different every epoch and reproducible."""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import platform
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from tinyzoo.common import distributed
from tinyzoo.common.errors import ArtifactError, ConfigError, TrainingError
from tqdm import tqdm

log = logging.getLogger(__name__)
OLD_WIRING_KEYS = ("model.builder", "data.eval", "data.default_root")   # dotted; they name code, not weights
PROCESS_SEEDS = "augmentation and dropout draws of process r seeded with seed + 1 + r"   # under DDP, see fit


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    seconds_total: float = 0.0
    seconds_per_epoch: float = 0.0
    epochs_run: int = 0
    world_size: int = 1
    devices: str = ""
    global_batch_size: int = 0
    batch_norm: str = ""
    precision: str = "fp32"
    hardware: str = ""      # the machine the epochs ran on ("" when the checkpoint that holds them does not say)

    def setup(self) -> dict:
        """How it trained, for the metrics' `training` section: processes, devices, the global batch, how batch
        norm statistics were kept, the precision."""
        out = {"world_size": self.world_size, "devices": self.devices, "global_batch_size": self.global_batch_size,
               "precision": self.precision}
        if self.world_size > 1:
            out.update(batch_norm=self.batch_norm, process_seeds=PROCESS_SEEDS)
        return out


def _batch(dataset, indices: list[int]):
    if hasattr(dataset, "batch"):
        return dataset.batch(indices)
    return torch.utils.data.default_collate([dataset[i] for i in indices])


def _optimizer(model: torch.nn.Module, cfg: dict) -> torch.optim.Optimizer:
    name, lr, wd = cfg.get("optimizer", "adam"), cfg["lr"], cfg.get("weight_decay", 0.0)
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.get("momentum", 0.9), weight_decay=wd, nesterov=True)
    raise ConfigError(f"unknown optimizer {name!r}: adam, adamw or sgd")


def _schedule(optimizer, cfg: dict, steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    total = max(1, cfg["epochs"] * steps_per_epoch)
    warmup = cfg.get("warmup_epochs", 0) * steps_per_epoch
    kind = cfg.get("lr_schedule", "constant")

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if kind == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
        if kind == "constant":
            return 1.0
        raise ConfigError(f"unknown lr_schedule {kind!r}: cosine or constant")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _fingerprint(cfg: dict, n: int) -> str:
    """What checkpoints made before the resume record (`weights_shaped_by`) were keyed on."""
    record = json.dumps({"train": cfg, "samples": n}, sort_keys=True, default=str)
    return hashlib.sha256(record.encode()).hexdigest()[:16]


def data_fingerprint(train_set) -> dict:
    """The training data as resume compares it: the sample count and a hash of the sorted sample ids and the
    set's summary (counts per class and source, or stories, bytes and tokens)."""
    ids = sorted(str(i) for i in train_set.ids) if hasattr(train_set, "ids") else None
    summary = train_set.summary() if hasattr(train_set, "summary") else None
    text = json.dumps({"ids": ids, "summary": summary}, sort_keys=True, default=str)
    return {"samples": len(train_set), "sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}


def weights_shaped_by(cfg: dict, train_set) -> dict:
    """What shapes the trained weights besides the training config: the recipe config's data, front-end,
    tokenizer and model sections and the training data's fingerprint. `fit(..., shaped_by=...)` records it in
    the checkpoint and resumes only a checkpoint trained with the same."""
    sections = {name: cfg[name] for name in ("data", "frontend", "tokenizer", "model") if name in cfg}
    return {**sections, "training_data": data_fingerprint(train_set)}


def _flat(record: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in record.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def record_differences(trained: dict, now: dict) -> list[tuple[str, str, str]]:
    """(dotted key, value in the checkpoint's record, value in this build's) for every key that differs; the
    wiring strings older checkpoints recorded (OLD_WIRING_KEYS) name code, not weights, and are skipped."""

    then, now = _flat(trained), _flat(now)
    for record in (then, now):
        for key in OLD_WIRING_KEYS:
            record.pop(key, None)
    exact = lambda record, key: json.dumps(record[key], sort_keys=True, default=str) if key in record else None
    shown = lambda record, key: ("(none)" if key not in record else
                                 record[key] if isinstance(record[key], str) else exact(record, key))
    keys = list(now) + [k for k in then if k not in now]
    return [(k, shown(then, k), shown(now, k)) for k in keys if exact(then, k) != exact(now, k)]


def resume_refusal(checkpoint: Path, differences: list[tuple[str, str, str]]) -> str:
    shown, more = differences[:3], len(differences) - 3
    was = " and ".join(f"{key}={then}" for key, then, _ in shown) + (f" (and {more} more)" if more > 0 else "")
    has = shown[0][2] if len(shown) == 1 else " and ".join(f"{key}={now}" for key, _, now in shown)
    return (f"{checkpoint} was trained with {was}, this build has {has}: pass --no-resume to train from scratch, "
            f"or use another --build-dir")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def read_checkpoint(path: Path) -> dict:
    """A training checkpoint as `fit` wrote it; a truncated or corrupt file is a one-line ArtifactError."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as err:   # torch raises RuntimeError, EOFError, UnpicklingError, ... for a damaged file
        raise ArtifactError(f"{path} cannot be loaded ({_first_line(err)}): delete it or pass --no-resume "
                            f"to train from scratch") from None
    # a published checkpoint keeps the weights and how they were trained, without the optimizer state
    if not isinstance(state, dict) or not {"model", "epoch", "history"} <= set(state):
        raise ArtifactError(f"{path} is not a training checkpoint of this loop: delete it or pass --no-resume "
                            f"to train from scratch")
    return state


def _resume_state(checkpoint: Path, world: int) -> dict | None:
    """The checkpoint to resume from as process 0 reads it; under DDP sent to every process (they need not
    share process 0's disk)."""
    state, error = None, None
    if distributed.is_main() and checkpoint.exists():
        try:
            state = read_checkpoint(checkpoint)
        except ArtifactError as err:
            error = str(err)
    if world > 1:
        box = [(state, error)]
        dist.broadcast_object_list(box, src=0)
        state, error = box[0]
    if error:
        raise ArtifactError(error)
    return state


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton et al.'s soft-target loss: T² · KL(softmax(teacher / T) ‖ softmax(student / T)), batch mean."""
    return torch.nn.functional.kl_div(torch.log_softmax(student / temperature, dim=1),
                                      torch.softmax(teacher / temperature, dim=1),
                                      reduction="batchmean") * temperature ** 2


def float_weights(path: str | Path) -> dict:
    """The float weights (a state dict) of a checkpoint or a bare state dict; a damaged file is a one-line
    ArtifactError."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as err:   # torch raises RuntimeError, EOFError, UnpicklingError, ... for a damaged file
        raise ArtifactError(f"{path} cannot be loaded ({_first_line(err)}): fetch it again (`tinyzoo pull`) or "
                            f"rebuild it") from None
    return state["model"] if isinstance(state, dict) and "model" in state else state


def load_weights(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    model.load_state_dict(float_weights(path))
    return model.eval()


@torch.no_grad()
def predict(model: torch.nn.Module, features: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(features[i:i + batch_size]) for i in range(0, len(features), batch_size)])


class _TrainingView(torch.nn.Module):
    """`forward(model, x)` as a module, so DistributedDataParallel can wrap a model whose training view is not
    its `__call__` (a language model trains on token ids)."""

    def __init__(self, model: torch.nn.Module, forward: Callable):
        super().__init__()
        self.model, self.view = model, forward

    def forward(self, x):
        return self.view(self.model, x)


def _batch_norms(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str, torch.nn.Module]]:
    return [(parent, name, child) for parent in model.modules() for name, child in parent.named_children()
            if isinstance(child, torch.nn.modules.batchnorm._BatchNorm)]


def to_sync_batchnorm(model: torch.nn.Module) -> list:
    """Replace every batch norm in `model` by a SyncBatchNorm (statistics over the global batch; GPUs only in
    torch 2.14) sharing its parameters and buffers; returns what `from_sync_batchnorm` puts back."""
    swapped = _batch_norms(model)
    for parent, name, bn in swapped:
        setattr(parent, name, torch.nn.SyncBatchNorm.convert_sync_batchnorm(bn))
    return swapped


def from_sync_batchnorm(swapped: list) -> None:
    """Put the original batch norms back, with the trained state of their SyncBatchNorm stand-ins."""
    for parent, name, bn in swapped:
        bn.load_state_dict(getattr(parent, name).state_dict())
        setattr(parent, name, bn)


def _batch_norm_note(model: torch.nn.Module, world: int, device: torch.device) -> str:
    if world == 1:
        return ""
    if not _batch_norms(model):
        return "none in the model"
    if device.type == "cuda":
        return "SyncBatchNorm: statistics over the global batch"
    return ("per-process statistics (SyncBatchNorm needs GPUs in torch 2.14); the running statistics are "
            "process 0's, which DDP broadcasts before every step")


def check_global_batch(batch_size: int, world: int) -> None:
    """train.batch_size is the global batch: each of the `world` processes takes an equal share."""
    if batch_size % world:
        raise ConfigError(f"train.batch_size {batch_size} (the global batch) does not divide over {world} "
                          f"processes: make it a multiple of {world}")


def fit(model: torch.nn.Module, train_set, cfg: dict, checkpoint: str | Path, *,
        batch_transform: Callable | None = None, forward: Callable | None = None,
        eval_set: tuple[torch.Tensor, torch.Tensor] | None = None, loss: Callable | None = None, resume: bool = True,
        device: str | torch.device | None = None, drop_last: bool = False, teacher: torch.nn.Module | None = None,
        shaped_by: dict | None = None, log_fn=print) -> TrainResult:
    """Train `model` on `train_set` ((input, label) items) for cfg["epochs"]; returns the history.

    `checkpoint` is written after every epoch with a record of what shaped the weights: `cfg`, the world size
    and `shaped_by` (see `weights_shaped_by`: the config's data/front-end/model sections and the data's
    fingerprint). With `resume`, a checkpoint with the same record continues where it stopped (a finished one
    returns at once); one with another record is refused with a ConfigError naming what differs. `eval_set`
    (features, labels) is scored after every epoch. `forward(model, x)` replaces `model(x)` in training, for
    models whose training view differs from their deployed graph (a language model is trained on token ids,
    deployed on embeddings). `loss(outputs, targets)` replaces the classifiers' cross-entropy (e.g. an
    autoencoder's reconstruction error); then no training accuracy is reported. `drop_last` drops each epoch's
    final partial batch (graphs with a static batch). `teacher` (with cfg["distill"]: temperature, weight):
    knowledge distillation — the teacher's logits on the same augmented batch, computed on the fly without
    gradients, and the loss (1 - weight) * the task's loss + weight * T² * KL(teacher ‖ student) at temperature T.
    Trains on the GPU when there is one (`device` overrides); the model comes back on the CPU.

    Under torchrun (common.distributed.init() called) the model trains with DistributedDataParallel:
    cfg["batch_size"] stays the global batch, each process takes its share of every batch of the one seeded
    order (the union of the shares is the single-process batch), gradients are averaged so each step equals a
    step on the whole batch (a last batch smaller than the number of processes is dropped); augmentation and
    dropout draws of process r are seeded with seed + 1 + r. Only process 0 logs, validates and writes the
    checkpoint; every process resumes from it. With one process the loop is the single-process loop."""
    world, rank = distributed.world_size(), distributed.rank()
    main = rank == 0
    log = log_fn if main else (lambda *_: None)
    device = torch.device(device) if device is not None else distributed.device()
    model.to(device)
    if teacher is not None:
        teacher.to(device).eval()
    if isinstance(batch_transform, torch.nn.Module):
        batch_transform.to(device)
    checkpoint = Path(checkpoint)
    n, batch_size, epochs, seed = len(train_set), cfg["batch_size"], cfg["epochs"], cfg.get("seed", 0)
    if n == 0:
        raise ConfigError("the training set is empty: check the data root and data.* in the config")
    check_global_batch(batch_size, world)
    steps = n // batch_size if drop_last else math.ceil(n / batch_size)
    if world > 1 and not drop_last and 0 < n % batch_size < world:
        steps -= 1   # every process needs a sample of the last batch
    if steps == 0:
        raise ConfigError(f"{n} training samples do not fill one batch of {batch_size} (drop_last)")
    precision = cfg.get("precision", "fp32")
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"unknown train.precision {precision!r}: fp32 or bf16")
    bf16 = precision == "bf16" and device.type == "cuda"
    if precision == "bf16" and not bf16:
        log("train.precision bf16 is for CUDA GPUs: ignored on the CPU, training in fp32")
    optimizer = _optimizer(model, cfg)
    scheduler = _schedule(optimizer, cfg, steps)
    classifies = loss is None
    loss_fn = loss if loss is not None else torch.nn.CrossEntropyLoss(label_smoothing=cfg.get("label_smoothing", 0.0))
    generator = torch.Generator().manual_seed(seed)        # the batch order, the same in every process
    augment_generator = generator
    if world > 1:
        augment_generator = torch.Generator().manual_seed(seed + 1 + rank)
        torch.manual_seed(seed + 1 + rank)
    result = TrainResult(world_size=world, devices=distributed.devices(device), global_batch_size=batch_size,
                         batch_norm=_batch_norm_note(model, world, device),
                         precision="bf16 autocast" if bf16 else "fp32")
    start_epoch, fingerprint = 0, _fingerprint(cfg, n)
    record = {"train": cfg, "world_size": world, **(shaped_by or {})}

    state = _resume_state(checkpoint, world) if resume else None
    if state is not None:
        if "record" in state:
            differences = record_differences(state["record"], record)
            if differences:
                raise ConfigError(resume_refusal(checkpoint, differences))
            resumable = True
        else:   # written before the record: keyed on the training config (as it was then) and the sample count
            before_precision = {k: v for k, v in cfg.items() if not (k == "precision" and v == "fp32")}
            resumable = state.get("fingerprint") == _fingerprint(before_precision, n) and world == 1
            if resumable:
                log(f"{checkpoint} predates the resume record: only its training config and sample count were "
                    f"compared, not the front end, model or data")
        if resumable:
            try:
                model.load_state_dict(state["model"])
            except RuntimeError as err:
                raise ConfigError(f"{checkpoint} holds the weights of another model ({_first_line(err)}): pass "
                                  f"--no-resume to train from scratch, or use another --build-dir") from None
            result.history, start_epoch = state["history"], state["epoch"]
            result.seconds_total = state.get("seconds", sum(h.get("seconds", 0.0) for h in state["history"]))
            result.hardware = state.get("hardware", "")
            if "optimizer" in state:
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
                generator.set_state(state["generator"])
                if world == 1:
                    torch.set_rng_state(state["torch_rng"])
                else:
                    mine = state["processes"][rank]
                    augment_generator.set_state(mine["augment_generator"])
                    torch.set_rng_state(mine["torch_rng"])
                log(f"resuming from {checkpoint} after epoch {start_epoch}/{epochs}")
            elif start_epoch >= epochs:   # a published checkpoint: finished weights, no optimizer state
                log(f"trained weights from {checkpoint} ({start_epoch} epochs): training skipped")
            else:
                raise ConfigError(f"{checkpoint} holds weights after epoch {start_epoch} of {epochs} without the "
                                  f"optimizer state training needs to go on: pass --no-resume to train from scratch")
        else:
            log(f"{checkpoint} was trained with another config, data or number of processes: training from scratch")

    swapped = to_sync_batchnorm(model) if world > 1 and device.type == "cuda" else []
    net = model if forward is None else _TrainingView(model, forward)
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device] if device.type == "cuda" else None)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    if main:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)

    if start_epoch < epochs:
        result.hardware = hardware()
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        net.train()
        order = torch.randperm(n, generator=generator).tolist()
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False, disable=not main)
        for step in bar:
            batch = order[step * batch_size:(step + 1) * batch_size]
            idx = batch[rank::world]
            x, y = _batch(train_set, idx)
            x, y = x.to(device), y.to(device)
            if batch_transform is not None:
                with torch.no_grad():
                    x, y = batch_transform(x, y, generator=augment_generator)
                net.train()
            with autocast():
                logits = net(x)
                loss = loss_fn(logits, y)
                if teacher is not None:
                    with torch.no_grad():
                        taught = teacher(x)
                    weight = cfg["distill"]["weight"]
                    loss = (1 - weight) * loss + weight * distillation_loss(logits, taught,
                                                                            cfg["distill"]["temperature"])
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"the training loss became {loss.item()} at epoch {epoch + 1}, batch {step + 1} (lr "
                    f"{optimizer.param_groups[0]['lr']:.3g}); {checkpoint} keeps the weights after epoch {epoch}. "
                    f"Lower the learning rate or check the inputs for inf/NaN")
            # DDP averages the processes' gradients; weighting each share by its size makes the average the
            # gradient of the mean loss over the whole batch also when the last batch does not split evenly
            share = len(idx) * world / len(batch)
            optimizer.zero_grad(set_to_none=True)
            (loss if share == 1 else loss * share).backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * y.numel()           # numel: one label per token for sequence models
            correct += int((logits.argmax(1) == y).sum()) if classifies else 0
            seen += y.numel()
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", **({"acc": f"{correct / seen:.3f}"} if classifies else {}))
        if world > 1:   # the epoch's figures over every process
            totals = torch.tensor([total_loss, correct, seen], dtype=torch.float64, device=device)
            dist.all_reduce(totals)
            total_loss, correct, seen = totals[0].item(), int(totals[1].item()), int(totals[2].item())
        seconds = time.perf_counter() - started
        entry = {"epoch": epoch + 1, "loss": round(total_loss / seen, 4),
                 **({"train_accuracy": round(correct / seen, 4)} if classifies else {}),
                 "lr": optimizer.param_groups[0]["lr"], "seconds": round(seconds, 2)}
        if eval_set is not None and main:
            predicted = predict(model, eval_set[0].to(device)).argmax(1).cpu()
            entry["val_accuracy"] = round(float((predicted == eval_set[1]).float().mean()), 4)
        result.history.append(entry)
        result.seconds_total += seconds
        log("  ".join(f"{k} {v}" for k, v in entry.items()))
        processes = None
        if world > 1:   # every process's random state, so a resumed run draws what this one would have
            processes = [None] * world
            dist.all_gather_object(processes, {"augment_generator": augment_generator.get_state(),
                                               "torch_rng": torch.get_rng_state()})
        if main:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                     "torch_rng": torch.get_rng_state(),
                     "epoch": epoch + 1, "history": result.history, "fingerprint": fingerprint,
                     "seconds": result.seconds_total, "hardware": result.hardware, "config": cfg, "record": record}
            if processes is not None:
                state["processes"] = processes
            save_checkpoint(checkpoint, state)
    distributed.barrier()   # the last checkpoint is on disk before any process moves on
    from_sync_batchnorm(swapped)
    result.epochs_run = len(result.history)
    timed = [h["seconds"] for h in result.history]
    result.seconds_per_epoch = sum(timed) / len(timed) if timed else 0.0
    model.cpu().eval()
    if isinstance(batch_transform, torch.nn.Module):
        batch_transform.cpu()
    return result


def hardware() -> str:
    """The machine a build ran on, for the card's timing figures."""
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else f"CPU ({platform.processor() or platform.machine()})")
    return f"{device}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
