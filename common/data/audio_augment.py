"""Waveform augmentation for keyword spotting, batched on the training device: random time shift, gain, and
background noise mixed at a random signal-to-noise ratio (the augmentations of the TensorFlow speech_commands
and MLPerf Tiny KWS training scripts)."""
from __future__ import annotations

import torch
from tinyzoo.common.errors import ConfigError


class WaveformAugment(torch.nn.Module):
    def __init__(self, noise_bank: list[torch.Tensor], *, sample_rate: int = 16000, time_shift_ms: float = 0.0,
                 noise_prob: float = 0.0, noise_snr_db: tuple[float, float] = (0.0, 20.0),
                 gain_db: tuple[float, float] = (0.0, 0.0)):
        super().__init__()
        self.noise_bank = [torch.as_tensor(n, dtype=torch.float32) for n in noise_bank]
        self.max_shift = int(sample_rate * time_shift_ms / 1000)
        self.noise_prob, self.noise_snr_db, self.gain_db = noise_prob, tuple(noise_snr_db), tuple(gain_db)
        if noise_prob > 0 and not self.noise_bank:
            raise ConfigError("noise_prob > 0 needs background noise recordings")

    @classmethod
    def from_config(cls, augment: dict, noise_bank: list[torch.Tensor], sample_rate: int) -> "WaveformAugment":
        return cls(noise_bank, sample_rate=sample_rate, time_shift_ms=augment.get("time_shift_ms", 0.0),
                   noise_prob=augment.get("noise_prob", 0.0), noise_snr_db=augment.get("noise_snr_db", (0, 20)),
                   gain_db=augment.get("gain_db", (0, 0)))

    @staticmethod
    def _uniform(n: int, low: float, high: float, generator) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    def shift(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        """Shift each clip by a random number of samples in [-max_shift, max_shift], filling with zeros."""
        if self.max_shift == 0:
            return x
        n, length = x.shape
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (n, 1), generator=generator)
        source = torch.arange(length)[None, :] - shifts
        valid = (source >= 0) & (source < length)
        return torch.where(valid.to(x.device), x.gather(1, source.clamp(0, length - 1).to(x.device)), 0.0)

    def noise(self, n: int, length: int, generator=None) -> torch.Tensor:
        """n random excerpts of `length` samples from the noise bank."""
        out = torch.empty(n, length)
        which = torch.randint(len(self.noise_bank), (n,), generator=generator)
        for i, k in enumerate(which.tolist()):
            rec = self.noise_bank[k]
            start = int(torch.randint(0, max(1, len(rec) - length), (1,), generator=generator))
            piece = rec[start:start + length]
            out[i, :len(piece)] = piece
            out[i, len(piece):] = 0
        return out

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, length = x.shape
        x = self.shift(x, generator)
        if self.gain_db != (0, 0):
            x = x * (10 ** (self._uniform(n, *self.gain_db, generator) / 20))[:, None].to(x.device)
        if self.noise_prob > 0:
            mix = (torch.rand(n, generator=generator) < self.noise_prob).to(x.device)
            noise = self.noise(n, length, generator).to(x.device)
            snr = self._uniform(n, *self.noise_snr_db, generator).to(x.device)
            signal_rms = x.pow(2).mean(1).sqrt().clamp_min(1e-4)
            noise_rms = noise.pow(2).mean(1).sqrt().clamp_min(1e-6)
            scale = signal_rms / noise_rms / (10 ** (snr / 20))
            x = x + noise * (scale * mix)[:, None]
        return x.clamp(-1.0, 1.0)
