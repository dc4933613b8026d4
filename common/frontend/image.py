"""Image preprocessing, defined by config and written once for training, verification and firmware:
uint8 RGB (N, 3, H, W) → optional bilinear resize to `size` → x / 255 → (x - mean) / std per channel, float32
NCHW. The model's int8 input is then `round(x / scale) + zero_point` with the scale and zero point in the card.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from tinyzoo.common.errors import ConfigError


@dataclass(frozen=True)
class ImageConfig:
    size: tuple[int, int] = (32, 32)                 # (height, width) the model sees
    mean: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
    std: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
    channel_order: str = "RGB"
    layout: str = "NCHW"

    @classmethod
    def from_dict(cls, cfg: dict) -> "ImageConfig":
        known = cls.__dataclass_fields__
        unknown = sorted(set(cfg) - set(known) - {"type"})
        if unknown:
            raise ConfigError(f"unknown image front-end key(s) {unknown}; known: {sorted(known)}")
        if cfg.get("channel_order", "RGB") != "RGB" or cfg.get("layout", "NCHW") != "NCHW":
            raise ConfigError("the image front end supports channel_order RGB and layout NCHW")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items() if k in known}
        return cls(**values)

    def to_dict(self) -> dict:
        return {"type": "image", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}


def preprocess_numpy(image: np.ndarray, cfg: ImageConfig) -> np.ndarray:
    """Reference for one uint8 HWC RGB image already at `cfg.size` → float64 CHW (what firmware computes)."""
    x = image.astype(np.float64) / 255.0
    x = (x - np.asarray(cfg.mean)) / np.asarray(cfg.std)
    return x.transpose(2, 0, 1)


class ImagePreprocess(torch.nn.Module):
    def __init__(self, cfg: ImageConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0
        if tuple(x.shape[-2:]) != tuple(self.cfg.size):
            x = torch.nn.functional.interpolate(x, size=self.cfg.size, mode="bilinear", align_corners=False)
        return (x - self.mean) / self.std


class RandomCropFlip(torch.nn.Module):
    """The standard CIFAR augmentation, batched: zero-pad by `padding`, random crop back, random horizontal flip."""

    def __init__(self, padding: int = 4, hflip: bool = True):
        super().__init__()
        self.padding, self.hflip = padding, hflip

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, _, h, w = images.shape
        out = images
        if self.padding:
            padded = torch.nn.functional.pad(images, [self.padding] * 4)
            dy = torch.randint(0, 2 * self.padding + 1, (n,), generator=generator)
            dx = torch.randint(0, 2 * self.padding + 1, (n,), generator=generator)
            out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
        if self.hflip:
            flip = torch.rand(n, generator=generator) < 0.5
            out = torch.where(flip[:, None, None, None].to(out.device), out.flip(-1), out)
        return out
