"""Keyword Transformer (KWT; Berg, O'Connor, Ruiz, 2021) sized for a microcontroller: every MFCC frame is a
token (a 1 x n_mfcc patch), linearly embedded, with a learned class token and positional embedding, then
pre-norm transformer encoder layers and a linear head on the class token.

KWT-1 is dim 64, 12 layers, 1 head, MLP 256 (607 k parameters, on 98x40 MFCC); the default here keeps its
width and single head with fewer layers and a smaller MLP, on the DS-CNN recipe's 49x10 MFCC so the two models
see the same input.

The published kws/kwt is still this model on common/layers.py (written for the old dynamic-batch chain; at the
static batch 1 it is no longer needed to lower). Its stock-layer version (nn.TransformerEncoder, nn.LayerNorm,
expand + cat class token, as vision/vit_tiny_cifar10 now is) trains and lowers 100 % on every target, but measured
67.80 % float / 66.10 % int8 on the test clips with PTQ and again 66.10 % after 5 epochs of QAT (TOSA = fake-quant
on 99.7 % of clips): -1.70 pp, outside the transformers' 1 pp bar, where this model holds it. So it stays until
the int8 loss of the stock graph is found (a per-layer sensitivity sweep is the next step)."""
from __future__ import annotations

import torch
from torch import nn

from tinyzoo.common.builders import register_model
from tinyzoo.common.config import Classes, Dropout, PositiveInt
from tinyzoo.common.layers import EncoderLayer, LayerNorm


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


@register_model
def kwt(num_classes: Classes = 12, frames: PositiveInt = 49, n_mfcc: PositiveInt = 10, dim: PositiveInt = 64,
        depth: PositiveInt = 4, heads: PositiveInt = 1, mlp_dim: PositiveInt = 128, dropout: Dropout = 0.0) -> KWT:
    return KWT(num_classes, frames, n_mfcc, dim, depth, heads, mlp_dim, dropout)
