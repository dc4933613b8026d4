"""The float training loop every recipe uses: seeded, with progress bars, an atomic checkpoint after every epoch
and resume from it. Batches are transformed on the fly (augmentation + front end) by the recipe's
`batch_transform(inputs, labels, generator)`, so augmentation is different every epoch and reproducible."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from common.errors import ConfigError
from tqdm import tqdm

log = logging.getLogger(__name__)


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
    return hashlib.sha256(json.dumps({"train": cfg, "samples": n}, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_weights(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    state = torch.load(str(path), map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"] if "model" in state else state)
    return model.eval()


@torch.no_grad()
def predict(model: torch.nn.Module, features: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(features[i:i + batch_size]) for i in range(0, len(features), batch_size)])


def fit(model: torch.nn.Module, train_set, cfg: dict, checkpoint: str | Path, *,
        batch_transform: Callable | None = None, forward: Callable | None = None, eval_set: tuple[torch.Tensor, torch.Tensor] | None = None,
        resume: bool = True, device: str | torch.device | None = None, drop_last: bool = False,
        log_fn=print) -> TrainResult:
    """Train `model` on `train_set` ((input, label) items) for cfg["epochs"]; returns the history.

    `checkpoint` is written after every epoch; with `resume`, a checkpoint of the same training config and
    data size continues where it stopped (a finished one returns at once). `eval_set` (features, labels) is
    scored after every epoch. `forward(model, x)` replaces `model(x)` in training, for models whose training view
    differs from their deployed graph (a language model is trained on token ids, deployed on embeddings). Trains on the GPU when there is one (`device` overrides); the model comes back
    on the CPU."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)
    if isinstance(batch_transform, torch.nn.Module):
        batch_transform.to(device)
    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    n, batch_size, epochs = len(train_set), cfg["batch_size"], cfg["epochs"]
    if n == 0:
        raise ConfigError("the training set is empty: check the data root and data.* in the config")
    steps = n // batch_size if drop_last else math.ceil(n / batch_size)   # drop_last: a static-batch graph
    if steps == 0:
        raise ConfigError(f"the training set ({n}) is smaller than one batch of {batch_size}")
    optimizer = _optimizer(model, cfg)
    scheduler = _schedule(optimizer, cfg, steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.get("label_smoothing", 0.0))
    generator = torch.Generator().manual_seed(cfg.get("seed", 0))
    result, start_epoch, fingerprint = TrainResult(), 0, _fingerprint(cfg, n)

    if resume and checkpoint.exists():
        state = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
        if state.get("fingerprint") == fingerprint:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            result.history, start_epoch = state["history"], state["epoch"]
            result.seconds_total = state.get("seconds", 0.0)
            log_fn(f"resuming from {checkpoint} after epoch {start_epoch}/{epochs}")
        else:
            log_fn(f"{checkpoint} was trained with another config or data: training from scratch")

    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).tolist()
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False)
        for step in bar:
            idx = order[step * batch_size:(step + 1) * batch_size]
            x, y = _batch(train_set, idx)
            x, y = x.to(device), y.to(device)
            if batch_transform is not None:
                with torch.no_grad():
                    x, y = batch_transform(x, y, generator=generator)
                model.train()
            logits = model(x) if forward is None else forward(model, x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * y.numel()           # numel: one label per token for sequence models
            correct += int((logits.argmax(1) == y).sum())
            seen += y.numel()
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        seconds = time.perf_counter() - started
        entry = {"epoch": epoch + 1, "loss": round(total_loss / seen, 4), "train_accuracy": round(correct / seen, 4),
                 "lr": optimizer.param_groups[0]["lr"], "seconds": round(seconds, 2)}
        if eval_set is not None:
            predicted = predict(model, eval_set[0].to(device)).argmax(1).cpu()
            entry["val_accuracy"] = round(float((predicted == eval_set[1]).float().mean()), 4)
        result.history.append(entry)
        result.seconds_total += seconds
        log_fn("  ".join(f"{k} {v}" for k, v in entry.items()))
        save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                     "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
                                     "torch_rng": torch.get_rng_state(),
                                     "epoch": epoch + 1, "history": result.history, "fingerprint": fingerprint,
                                     "seconds": result.seconds_total, "config": cfg})
    result.epochs_run = len(result.history)
    timed = [h["seconds"] for h in result.history]
    result.seconds_per_epoch = sum(timed) / len(timed) if timed else 0.0
    model.cpu().eval()
    if isinstance(batch_transform, torch.nn.Module):
        batch_transform.cpu()
    return result
