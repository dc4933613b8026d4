"""Keyword spotting data for the chain (common/tasks/keyword_spotting.py): Speech Commands (+ synthetic speech) →
waveforms → MFCC features.

Shared by every KWS recipe (DS-CNN, KWT, …): they differ in the model, not in the data or front end.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tinyzoo.common.data.audio_augment import WaveformAugment
from tinyzoo.common.data.speech_commands import (
    ClipSet,
    background_noise,
    kws_eval_set,
    kws_test_set,
    kws_train_set,
)
from tinyzoo.common.data.synthetic_speech import UNKNOWN_WORDS, synthesize_words
from tinyzoo.common.errors import DatasetNotFoundError
from tinyzoo.common.frontend import MFCC, MfccConfig, SpecAugment
from tinyzoo.common.layout import BUNDLED_DATA

BUNDLED_SAMPLE = BUNDLED_DATA / "speech_commands_sample"


def cache_dir() -> Path:
    """Where derived data (synthetic speech) is cached: $TINYZOO_CACHE, else ~/.cache/tinyzoo."""
    return Path(os.environ.get("TINYZOO_CACHE", Path.home() / ".cache" / "tinyzoo"))


def default_data_root() -> tuple[Path, str]:
    """Where data comes from when the user names none: $TINYZOO_DATA, else the small real sample the
    repository ships (enough to run the chain end to end, far too little for a good model)."""
    if os.environ.get("TINYZOO_DATA"):
        return Path(os.environ["TINYZOO_DATA"]), "TINYZOO_DATA"
    return BUNDLED_SAMPLE, "bundled sample"


class Features(torch.nn.Module):
    """The front end as the model sees it: float waveforms (B, T) → MFCC (B, 1, frames, coefficients)."""

    def __init__(self, frontend_cfg: dict):
        super().__init__()
        self.mfcc = MFCC(MfccConfig.from_dict(frontend_cfg))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.mfcc(waveforms).unsqueeze(1)


class TrainTransform(torch.nn.Module):
    """Per training batch, on the training device: waveform augmentation → MFCC → SpecAugment."""

    def __init__(self, cfg: dict, noise_bank: list[torch.Tensor]):
        super().__init__()
        augment = cfg["train"].get("augment", {})
        self.augment = WaveformAugment.from_config(augment, noise_bank, cfg["data"]["sample_rate"])
        self.features = Features(cfg["frontend"])
        self.spec_augment = SpecAugment(
            freq_masks=augment.get("freq_masks", 0), freq_mask_width=augment.get("freq_mask_width", 0),
            time_masks=augment.get("time_masks", 0), time_mask_width=augment.get("time_mask_width", 0))

    def forward(self, waveforms, labels, generator=None):
        self.train()
        x = self.augment(waveforms, generator=generator)
        x = self.spec_augment(self.features(x).squeeze(1), generator=generator).unsqueeze(1)
        return x, labels


@dataclass
class KwsData:
    train: ClipSet
    validation: ClipSet
    test: ClipSet
    noise: list[torch.Tensor]
    data_root: Path
    synthetic: object | None = None   # common.data.synthetic_speech.SynthesisSummary


def synthesize(cfg: dict, noise: list[torch.Tensor], log=print):
    """Keyword and unknown-word clips from the TTS engines the config names (cached by parameters)."""
    syn = cfg["data"]["synthetic"]
    labels = cfg["data"]["labels"]
    keywords = [w for w in labels if not w.startswith("_")]
    per_word = {w: syn["per_word"] for w in keywords}
    per_word.update({w: syn["unknown_per_word"] for w in UNKNOWN_WORDS if w not in per_word})
    root = cache_dir() / "synthetic_speech"
    log(f"synthesising speech for {len(keywords)} keywords and {len(per_word) - len(keywords)} unknown words "
        f"into {root} (cached)")
    return synthesize_words(list(per_word), root, per_word=per_word, engines=tuple(syn["engines"]),
                            seed=syn.get("seed", 0), sample_rate=cfg["data"]["sample_rate"],
                            clip_samples=cfg["data"]["clip_samples"],
                            noise=[n.numpy() for n in noise])


def load(cfg: dict, data_root: str | Path | None = None, *, train: bool = True, log=print) -> KwsData:
    """Training and test sets for a KWS recipe's config. Never trains on the test split."""
    if data_root is None:
        data_root, origin = default_data_root()
        log(f"data root: {data_root} ({origin}; pass --data-root or set TINYZOO_DATA for the full dataset)")
    data_root = Path(data_root)
    data_cfg = cfg["data"]
    noise = [torch.as_tensor(n, dtype=torch.float32) for n in background_noise(data_root, data_cfg["version"])]
    synthetic = None
    if train and data_cfg.get("synthetic", {}).get("enabled"):
        synthetic = synthesize(cfg, noise, log)
    seed = cfg["train"].get("seed", 0)
    train_set = kws_train_set(data_root, data_cfg, synthetic_root=synthetic.out_root if synthetic else None,
                              seed=seed) if train else None
    validation = kws_train_set(data_root, data_cfg, seed=seed, split="validation") if train else None
    test_set = kws_test_set(data_root, data_cfg)
    if len(test_set) == 0:
        raise DatasetNotFoundError(f"no test clips found under {data_root}")
    if train and len(train_set) == 0:
        raise DatasetNotFoundError(f"no training clips under {data_root} and no synthetic speech: enable "
                                   f"data.synthetic or use a data root with the training split")
    return KwsData(train=train_set, validation=validation, test=test_set, noise=noise, data_root=data_root,
                   synthetic=synthetic)


def features_of(clips: ClipSet, frontend_cfg: dict, batch_size: int = 1024) -> torch.Tensor:
    """MFCC features of every clip, (N, 1, frames, coefficients), computed in batches."""
    features = Features(frontend_cfg)
    out = [features(clips.float_waveforms(slice(i, i + batch_size))) for i in range(0, len(clips), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def eval_set(cfg: dict, root: str | Path, log=print) -> ClipSet:
    """Any folder in the dataset's standard layout (e.g. a user's own recordings), converted to the model's
    sample rate, mono and clip length (`log` says what was converted or skipped)."""
    data = cfg["data"]
    return kws_eval_set(root, data["labels"], data["clip_samples"], data["version"], data["sample_rate"], log=log)


def eval_features(cfg: dict, root: str | Path, log=print) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Features and labels of a folder in the dataset's layout, for `tinyzoo eval`."""
    clips = eval_set(cfg, root, log)
    return features_of(clips, cfg["frontend"]), clips.labels, clips.label_names
