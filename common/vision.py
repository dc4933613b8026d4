"""Image classification data for the chain: dataset → uint8 images → preprocessed float features.
Shared by every vision recipe (ResNet-8, MobileNet, ViT, …)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tinyzoo.common.data import cifar10, vww
from tinyzoo.common.data.cifar10 import ImageSet
from tinyzoo.common import recipe
from tinyzoo.common.errors import ConfigError
from tinyzoo.common.frontend.image import ImageConfig, ImagePreprocess, RandomCropFlip


@dataclass
class VisionData:
    train: ImageSet
    test: ImageSet
    data_root: Path


def load(cfg: dict, root: str | Path | None, *, train: bool = True, log=print) -> VisionData:
    root = recipe.data_root(root, "vision datasets are not bundled with the repository")
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
        from tinyzoo.common.errors import DatasetNotFoundError
        raise DatasetNotFoundError(f"no images to evaluate under {root}")
    return features_of(test, cfg["frontend"]), test.labels, test.label_names


def build(name: str, recipe_dir: Path, argv=None, *, data_hint: str) -> Path:
    """The whole chain for an image-classification recipe, top to bottom: data → train → int8 → Ethos-U .pte
    per target → TOSA-reference verification → Vela report → card. A vision recipe's train.py calls this with
    its name and folder; the model and everything else come from its config.yaml."""
    from tinyzoo.common import distributed, pipeline
    from tinyzoo.common.config import build_model
    from tinyzoo.common.train import fit, seed_everything, weights_shaped_by

    args = recipe.arguments(name, argv)
    cfg = recipe.config(recipe_dir, args)
    build_dir = recipe.build_dir(name, args)
    distributed.init()   # under torchrun: one of several training processes
    seed_everything(cfg["train"]["seed"])

    # 1. Data: training images (+ extra folders); the test split for testing only.
    data = load(cfg, args.data_root)
    train_transform = TrainTransform(cfg)

    # 2-3. Float model on augmented, preprocessed images.
    model = build_model(cfg)
    trained = fit(model, data.train, cfg["train"], build_dir / "checkpoint.pt", batch_transform=train_transform,
                  resume=not args.no_resume, shaped_by=weights_shaped_by(cfg, data.train))
    if not pipeline.after_training(model, cfg, data.train, train_transform, build_dir, features_of):
        return build_dir   # the other processes' work ends with training (and QAT)

    # 4-8. int8 (PTQ, optionally QAT), lowering per target, TOSA-reference verification, Vela report, card.
    return pipeline.quantize_verify_publish(
        name, recipe_dir, args, cfg, build_dir, model=model, trained=trained, train_set=data.train,
        test_set=data.test, train_transform=train_transform, features_of=features_of,
        data={"train": data.train.summary(), "test": data.test.summary(),
                                            "data_root": str(data.data_root)},
        reproduce=f"tinyzoo build {name} --data-root <{data_hint}>")
