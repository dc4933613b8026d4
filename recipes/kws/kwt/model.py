"""Keyword Transformer (KWT; Berg, O'Connor, Ruiz, 2021) sized for a microcontroller: every MFCC frame is a
token (a 1 x n_mfcc patch), linearly embedded, with a learned class token and positional embedding, then
pre-norm transformer encoder layers and a linear head on the class token.

KWT-1 is dim 64, 12 layers, 1 head, MLP 256 (607 k parameters, on 98x40 MFCC); the default here keeps its
width and single head with fewer layers and a smaller MLP, on the DS-CNN recipe's 49x10 MFCC so the two models
see the same input."""
from __future__ import annotations

import torch
from torch import nn


class LayerNorm(nn.Module):
    """nn.LayerNorm written out, the same arithmetic, with the channel means as a fixed 1/dim linear map: the
    Arm quantizer decomposes nn.LayerNorm and mean() into reshapes that bake in the batch size, which breaks
    the dynamic-batch export the chain calibrates with."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim)), eps
        self.register_buffer("averaging", torch.full((1, dim), 1.0 / dim))

    def forward(self, x):
        centred = x - nn.functional.linear(x, self.averaging)
        variance = nn.functional.linear(centred * centred, self.averaging)
        return centred * torch.rsqrt(variance + self.eps) * self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        # 3-D (batch, tokens, channels) matmuls per head with static slices: no batch-sized reshape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        width = q.shape[-1] // self.heads
        heads = []
        for h in range(self.heads):
            part = slice(h * width, (h + 1) * width)
            attn = torch.softmax(torch.bmm(q[..., part], k[..., part].transpose(1, 2)) * self.scale, dim=-1)
            heads.append(torch.bmm(attn, v[..., part]))
        return self.proj(heads[0] if self.heads == 1 else torch.cat(heads, dim=-1))


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.attn = LayerNorm(dim), Attention(dim, heads)
        self.norm2 = LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.mlp(self.norm2(x)))


class KWT(nn.Module):
    def __init__(self, num_classes: int = 12, frames: int = 49, n_mfcc: int = 10, dim: int = 64, depth: int = 4,
                 heads: int = 1, mlp_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Linear(n_mfcc, dim)
        # Position 0 is the class token: an all-zero frame prepended to the input embeds to the bias, and the
        # learned position embedding there makes it a learned class token, with no batch-sized expand.
        self.pos = nn.Parameter(torch.randn(1, frames + 1, dim) * 0.02)
        self.layers = nn.Sequential(*[EncoderLayer(dim, heads, mlp_dim, dropout) for _ in range(depth)])
        self.norm = LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):                      # x: (batch, 1, frames, n_mfcc), as DS-CNN takes it
        tokens = self.embed(nn.functional.pad(x.squeeze(1), (0, 0, 1, 0))) + self.pos
        return self.head(self.norm(self.layers(tokens))[:, 0])


def kwt(num_classes: int = 12, frames: int = 49, n_mfcc: int = 10, dim: int = 64, depth: int = 4, heads: int = 1,
        mlp_dim: int = 128, dropout: float = 0.0) -> KWT:
    return KWT(num_classes, frames, n_mfcc, dim, depth, heads, mlp_dim, dropout)
