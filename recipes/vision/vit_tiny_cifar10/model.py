"""A tiny Vision Transformer (Dosovitskiy et al., 2021) for 32x32 CIFAR-10: 4x4 patches (64 tokens) embedded by
a strided convolution, a learned class token and position embedding, pre-norm encoder layers
(common.layers) and a linear head on the class token."""
from __future__ import annotations

import torch
from torch import nn

from common.layers import EncoderLayer, LayerNorm


class ViT(nn.Module):
    def __init__(self, num_classes: int = 10, image_size: int = 32, patch: int = 4, dim: int = 64, depth: int = 4,
                 heads: int = 2, mlp_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        tokens = (image_size // patch) ** 2
        # position 0 is the class token: a zero token padded in front (no batch-sized expand), made a learned
        # class token by its position embedding
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        self.layers = nn.Sequential(*[EncoderLayer(dim, heads, mlp_dim, dropout) for _ in range(depth)])
        self.norm = LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):                      # x: (batch, 3, 32, 32)
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = nn.functional.pad(tokens, (0, 0, 1, 0)) + self.pos
        return self.head(self.norm(self.layers(tokens))[:, 0])


def vit_tiny(num_classes: int = 10, image_size: int = 32, patch: int = 4, dim: int = 64, depth: int = 4,
             heads: int = 2, mlp_dim: int = 128, dropout: float = 0.0) -> ViT:
    return ViT(num_classes, image_size, patch, dim, depth, heads, mlp_dim, dropout)
