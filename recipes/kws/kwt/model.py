"""Keyword Transformer (KWT; Berg, O'Connor, Ruiz, 2021) sized for a microcontroller: every MFCC frame is a
token (a 1 x n_mfcc patch), linearly embedded, with a learned class token and positional embedding, then
stock pre-norm encoder layers (`nn.TransformerEncoder`, `nn.LayerNorm`) and a linear head on the class token.
The chain exports it at the deployed batch of 1, where every layer lowers whole onto every Ethos-U target.

KWT-1 is dim 64, 12 layers, 1 head, MLP 256 (607 k parameters, on 98x40 MFCC); the default here keeps its
width and single head with fewer layers and a smaller MLP, on the DS-CNN recipe's 49x10 MFCC so the two models
see the same input.

The published weights were trained on the same arithmetic written out by hand (LayerNorm as a linear map,
the class token as the embedding of a zero frame, one-head attention as bmm) and mapped exactly onto these
stock layers (logits equal within 3.3e-6): see the card's Limitations."""
from __future__ import annotations

import torch
from tinyzoo.common.builders import register_model
from tinyzoo.common.schema import Classes, Dropout, PositiveInt
from torch import nn


class KWT(nn.Module):
    def __init__(self, num_classes: int = 12, frames: int = 49, n_mfcc: int = 10, dim: int = 64, depth: int = 4,
                 heads: int = 1, mlp_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Linear(n_mfcc, dim)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, frames + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):                      # x: (batch, 1, frames, n_mfcc), as DS-CNN takes it
        tokens = self.embed(x.squeeze(1))
        tokens = torch.cat([self.class_token.expand(x.shape[0], -1, -1), tokens], dim=1) + self.pos
        return self.head(self.norm(self.encoder(tokens))[:, 0])


@register_model
def kwt(num_classes: Classes = 12, frames: PositiveInt = 49, n_mfcc: PositiveInt = 10, dim: PositiveInt = 64,
        depth: PositiveInt = 4, heads: PositiveInt = 1, mlp_dim: PositiveInt = 128, dropout: Dropout = 0.0) -> KWT:
    return KWT(num_classes, frames, n_mfcc, dim, depth, heads, mlp_dim, dropout)
