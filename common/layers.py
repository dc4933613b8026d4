"""Transformer layers written for the Ethos-U path: the arithmetic of the standard pre-norm encoder, in ops the
Arm quantizer and Vela take whole with the chain's dynamic-batch calibration — no batch-sized reshape or
expand, and LayerNorm without the quantizer's own LayerNorm/mean decomposition (which bakes the batch size into
reshapes). Used by kws/kwt until its stock-layer version (as vision/vit_tiny_cifar10 is) is published."""
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
