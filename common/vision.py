"""Image classification data for the chain (common/tasks/image_classification.py): dataset → uint8 images →
preprocessed float features. Shared by every vision recipe (ResNet-8, MobileNet, ViT, …)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tinyzoo.common import layout
from tinyzoo.common.data import cifar10, vww
from tinyzoo.common.data.cifar10 import ImageSet
from tinyzoo.common.errors import ConfigError, DatasetNotFoundError
from tinyzoo.common.frontend.image import ImageConfig, ImagePreprocess, RandomCropFlip

# what --data-root holds for each dataset (the card's command that reproduces a build)
DATA_HINTS = {"cifar10": "dir with cifar-10-batches-py/", "vww": "dir with vww96/"}


@dataclass
class VisionData:
    train: ImageSet
    test: ImageSet
    data_root: Path


def load(cfg: dict, root: str | Path | None, *, train: bool = True, log=print) -> VisionData:
    root = layout.data_root(root, "vision datasets are not bundled with the repository")
    dataset = cfg["data"]["dataset"]
    log(f"data root: {root}")
    if dataset == "cifar10":
        return VisionData(train=cifar10.train_set(root, cfg["data"]) if train else None,
                          test=cifar10.cifar10(root, train=False), data_root=root)
    if dataset == "vww":
        train_set, test_set = _vww_split(cfg, root)
        return VisionData(train=train_set if train else None, test=test_set, data_root=root)
    raise ConfigError(f"unknown vision dataset {dataset!r}: cifar10 or vww")


def _vww_split(cfg: dict, root: Path) -> tuple[ImageSet, ImageSet]:
    images = vww.from_folder(root, size=cfg["frontend"]["size"][0])
    return vww.split(images, cfg["data"]["test_fraction"])


class TrainTransform(torch.nn.Module):
    """Per training batch: random crop + flip on the uint8 images, then the preprocessing."""

    def __init__(self, cfg: dict):
        super().__init__()
        augment = cfg["train"].get("augment", {})
        self.augment = RandomCropFlip(augment.get("crop_padding", 0), augment.get("hflip", False))
        self.preprocess = ImagePreprocess(ImageConfig.from_dict(cfg["frontend"]))

    def forward(self, images, labels, generator=None):
        return self.preprocess(self.augment(images, generator=generator)), labels


def features_of(images: ImageSet, frontend_cfg: dict, batch_size: int = 1024) -> torch.Tensor:
    pre = ImagePreprocess(ImageConfig.from_dict(frontend_cfg))
    out = [pre(images.images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    return torch.cat(out)


def eval_features(cfg: dict, root: str | Path, log=print) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """For `tinyzoo eval`: a folder of images is evaluated whole (VWW: every image under non_person/ and person/);
    CIFAR-10: the whole test batch at the data root. (The build's card uses its own split; see load.)"""
    if cfg["data"]["dataset"] == "vww":
        skipped: list[tuple[str, str]] = []
        test = vww.from_folder(root, size=cfg["frontend"]["size"][0], skipped=skipped)
        log(f"read {'all ' if not skipped else ''}{len(test)} images under {root} ("
            + ", ".join(f"{n} {name}" for name, n in test.summary()["per_class"].items()) + ")")
        if skipped:
            log(f"skipped {len(skipped)} unreadable image{'s' if len(skipped) != 1 else ''} ("
                + ", ".join(name for name, _ in skipped[:5]) + (" …" if len(skipped) > 5 else "")
                + f"; first error: {skipped[0][1]})")
    else:
        test = load(cfg, root, train=False, log=lambda *_: None).test
    if len(test) == 0:
        raise DatasetNotFoundError(f"no images to evaluate under {root}")
    return features_of(test, cfg["frontend"]), test.labels, test.label_names


class TeacherOnItsFeatures(torch.nn.Module):
    """A distillation teacher whose image front end differs from the student's only in mean and std, fed the
    student's features: x ↦ teacher(((x · std_s + mean_s) − mean_t) / std_t), per channel — the teacher's own
    features of the same image (common/frontend/image.py: x / 255, then (x − mean) / std)."""

    def __init__(self, teacher: torch.nn.Module, student_frontend: dict, teacher_frontend: dict):
        super().__init__()
        self.teacher = teacher

        def channels(values):
            return torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1)

        self.register_buffer("scale", channels(student_frontend["std"]) / channels(teacher_frontend["std"]),
                             persistent=False)
        self.register_buffer("shift", (channels(student_frontend["mean"]) - channels(teacher_frontend["mean"]))
                             / channels(teacher_frontend["std"]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.teacher(x * self.scale + self.shift)
