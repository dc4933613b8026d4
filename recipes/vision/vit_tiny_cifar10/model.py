"""A tiny Vision Transformer (Dosovitskiy et al., 2021) for 32x32 CIFAR-10: 4x4 patches (64 tokens) embedded by
a strided convolution, a learned class token and position embedding, stock pre-norm encoder layers
(`nn.TransformerEncoder`, `nn.LayerNorm`) and a linear head on the class token. The chain exports it at the
deployed batch of 1, where every layer lowers whole onto every Ethos-U target."""
from __future__ import annotations

import torch
from tinyzoo.common.builders import register_model
from tinyzoo.common.schema import Classes, Dropout, PositiveInt
from torch import nn


class ViT(nn.Module):
    def __init__(self, num_classes: int = 10, image_size: int = 32, patch: int = 4, dim: int = 64, depth: int = 4,
                 heads: int = 2, mlp_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        tokens = (image_size // patch) ** 2
        # unit scale, like the patch embeddings it shares an int8 scale with
        self.class_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):                      # x: (batch, 3, 32, 32)
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.class_token.expand(x.shape[0], -1, -1), tokens], dim=1) + self.pos
        return self.head(self.norm(self.encoder(tokens))[:, 0])


@register_model
def vit_tiny(num_classes: Classes = 10, image_size: PositiveInt = 32, patch: PositiveInt = 4, dim: PositiveInt = 64,
             depth: PositiveInt = 4, heads: PositiveInt = 2, mlp_dim: PositiveInt = 128, dropout: Dropout = 0.0) -> ViT:
    return ViT(num_classes, image_size, patch, dim, depth, heads, mlp_dim, dropout)
