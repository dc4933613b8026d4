"""`Weights.transforms()`: the front ends as torch modules taking what a model's users feed it (torchvision's
`weights.transforms()`), from the model's resolved config; each task picks its own (`Task.transforms`). The same
modules the recipes train and evaluate with, with the user's input checked and brought to their batched shape."""
from __future__ import annotations

from pathlib import Path

import torch
from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.frontend.image import ImageConfig, ImagePreprocess
from tinyzoo.common.kws import Features
from tinyzoo.common.tokenizer import Tokenizer


class WaveformFeatures(torch.nn.Module):
    """Float waveforms in [-1, 1] (or int16 PCM) at the model's sample rate, (samples,) or (batch, samples), of
    exactly the clip length the model was trained on → MFCC features (batch, 1, frames, coefficients)."""

    def __init__(self, cfg: dict):
        super().__init__()

        self.sample_rate, self.clip_samples = cfg["data"]["sample_rate"], cfg["data"]["clip_samples"]
        self.features = Features(cfg["frontend"])

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(waveforms)
        if x.dtype == torch.int16:
            x = x.float() / 32768.0
        if not x.is_floating_point() or x.dim() not in (1, 2):
            raise TinyzooError(f"expected a float waveform (samples,) or (batch, samples), got {tuple(x.shape)} "
                               f"{x.dtype}: decode the audio to mono float (e.g. soundfile.read(..., dtype='float32'))")
        x = x.reshape(-1, x.shape[-1]).float()
        if x.shape[-1] != self.clip_samples:
            raise TinyzooError(f"expected {self.clip_samples} samples ({self.clip_samples / self.sample_rate:g} s at "
                               f"{self.sample_rate} Hz), got {x.shape[-1]}: resample to {self.sample_rate} Hz and cut "
                               f"or pad to {self.clip_samples} samples")
        return self.features(x)


class ImageFeatures(torch.nn.Module):
    """RGB images, uint8 in [0, 255] or float in [0, 1] (as torchvision's `ToTensor` gives), (3, H, W) or
    (batch, 3, H, W) → the model's normalised input at its size."""

    def __init__(self, cfg: dict):
        super().__init__()

        self.preprocess = ImagePreprocess(ImageConfig.from_dict(cfg["frontend"]))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(images)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != 3:
            raise TinyzooError(f"expected RGB images (3, H, W) or (batch, 3, H, W), got {tuple(x.shape)}")
        pixels = x.float() if x.dtype == torch.uint8 else x.float() * 255.0   # ImagePreprocess takes 0..255
        return self.preprocess(pixels)


class TextTokens(torch.nn.Module):
    """A string → its token ids (1, tokens) with the model's tokenizer (the language model's front end)."""

    def __init__(self, tokenizer_path: Path):
        super().__init__()

        self.tokenizer = Tokenizer.load(tokenizer_path)

    def forward(self, text: str) -> torch.Tensor:
        if not isinstance(text, str):
            raise TinyzooError(f"expected a string, got {type(text).__name__}")
        return torch.tensor([self.tokenizer.encode(text)], dtype=torch.long)
