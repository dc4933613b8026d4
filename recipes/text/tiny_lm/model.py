"""A llama-style decoder-only language model small enough for an Ethos-U NPU (after Touvron et al., 2023, and
Karpathy's llama2.c TinyStories models): RMSNorm, rotary position embeddings, causal self-attention, SwiGLU MLP,
no biases, output head tied to the token embedding.

What is different for the NPU, and why:
- Fixed context: the deployed graph takes exactly `context` token embeddings and returns the next-token logits at
  every position (static shapes; a fixed-window design — generation slides the window; `DecodeStep` below is the
  KV-cache graph from the same weights).
- The token-embedding lookup is not in the graph: the app reads rows of the int8 embedding table (quantized with
  the graph's input scale), a copy, no arithmetic. Ethos-U55 has no gather, and the lookup on the CPU would
  cast int64 ids; the table in flash is the same bytes either way.
- The causal mask must be finite for int8 (-inf or -1e4 would take the whole int8 range of the scores and leave
  the visible ones a few levels), and a finite additive mask alone leaks: training learns scores large enough to
  see the next token through it. So the attention scores are soft-capped, `score_cap * tanh(s / score_cap)`
  (Gemma 2's attention-logit soft-capping), and the future positions are *set* to `mask_value` (scores × a 0/1
  mask + a constant), at least 16 below any visible score: a future token gets at most e^-16 of the weight of a
  visible one, whatever the model learns, and the int8 scores span [mask_value, score_cap].
- Otherwise written as usual and exported at the deployed batch of 1: multi-head attention on (batch, heads,
  tokens, head_dim) tensors, `nn.Embedding` for training, `nn.RMSNorm` (executorch 1.5.1's quantizer does not
  annotate it; the chain rewrites it into the ops Llama's reference code writes, which lower whole:
  common/rewrites.py).
"""
from __future__ import annotations

from typing import Annotated

import torch
from tinyzoo.common.builders import register_model
from tinyzoo.common.schema import Key, Negative, PositiveInt, PositiveNumber
from torch import nn

Vocabulary = Annotated[int, Key("int", ge=8)]
Context = Annotated[int, Key("int", ge=2)]


def rotary_tables(context: int, head_dim: int, base: float = 10000.0,
                  start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin per position (start … start + context - 1) and channel for rotate-half RoPE (GPT-NeoX/Hugging Face
    Llama layout)."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(start, start + context, dtype=torch.float64)[:, None] * inv_freq[None]
    return torch.cos(angles).repeat(1, 2).float(), torch.sin(angles).repeat(1, 2).float()


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with rotary positions, written as usual ((B, heads, T, head_dim) tensors,
    `q @ k^T`), with Gemma 2's soft-capped scores and the future positions *set* to `mask_value` (see above).
    `F.scaled_dot_product_attention` has no soft cap, and its `is_causal` mask stays on the CPU of Ethos-U55."""

    def __init__(self, dim: int, heads: int, context: int, score_cap: float, mask_value: float):
        super().__init__()
        if mask_value > -score_cap - 16:
            raise ValueError(f"mask_value {mask_value} must be at most -(score_cap + 16) = {-score_cap - 16} so that "
                             f"future tokens stay hidden (weight <= e^-16 of a visible token)")
        self.heads, self.head_dim, self.score_cap, self.mask_value = heads, dim // heads, score_cap, float(mask_value)
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(dim, dim, bias=False) for _ in range(4))
        cos, sin = rotary_tables(context, self.head_dim)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        visible = torch.tril(torch.ones(context, context))
        self.register_buffer("visible", visible)
        self.register_buffer("hidden_value", (1 - visible) * float(mask_value))

    def split_heads(self, x):                  # (B, T, dim) -> (B, heads, T, head_dim)
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def attend(self, q, k, v, visible, hidden_value):
        """Soft-capped, masked attention of (B, heads, Tq, head_dim) queries over Tk keys and values."""
        scores = q @ k.transpose(-2, -1)
        scores = self.score_cap * torch.tanh(scores * (self.head_dim ** -0.5 / self.score_cap))
        weights = torch.softmax(scores * visible + hidden_value, dim=-1)
        out = weights @ v                      # (B, heads, Tq, head_dim)
        return self.wo(out.transpose(1, 2).reshape(q.shape[0], q.shape[2], self.heads * self.head_dim))

    def forward(self, x):
        q, k, v = (self.split_heads(w(x)) for w in (self.wq, self.wk, self.wv))
        q, k = rotate(q, self.cos, self.sin), rotate(k, self.cos, self.sin)
        return self.attend(q, k, v, self.visible, self.hidden_value)


def rotate(x, cos, sin):
    """Rotate-half RoPE on the last dimension."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int, context: int, score_cap: float, mask_value: float):
        super().__init__()
        self.attention_norm = nn.RMSNorm(dim, eps=1e-5)
        self.attention = CausalSelfAttention(dim, heads, context, score_cap, mask_value)
        self.mlp_norm = nn.RMSNorm(dim, eps=1e-5)
        self.w1, self.w3 = nn.Linear(dim, hidden, bias=False), nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def mlp(self, x):
        h = self.mlp_norm(x)
        return self.w2(nn.functional.silu(self.w1(h)) * self.w3(h))

    def forward(self, x):
        x = x + self.attention(self.attention_norm(x))
        return x + self.mlp(x)


class TinyLM(nn.Module):
    """forward(embeddings (B, context, dim)) → logits (B, context, vocab): the graph that goes to the NPU.
    `embed(tokens)` is the table lookup the app does; `tokens_to_logits` chains the two (training);
    `decode_step()` is the second graph (one token with a KV cache) and `rotary(position)` its position input."""

    def __init__(self, vocab_size: int = 1024, dim: int = 128, depth: int = 4, heads: int = 4, hidden: int = 384,
                 context: int = 128, score_cap: float = 8.0, mask_value: float = -24.0):
        super().__init__()
        self.context = context
        self.token_embedding = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.layers = nn.Sequential(*[DecoderLayer(dim, heads, hidden, context, score_cap, mask_value)
                                      for _ in range(depth)])
        self.norm = nn.RMSNorm(dim, eps=1e-5)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(tokens)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(self.norm(self.layers(embeddings)), self.token_embedding.weight)

    def tokens_to_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        return self(self.embed(tokens))

    def decode_step(self) -> "DecodeStep":
        return DecodeStep(self)

    def rotary(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin (head_dim,) of one absolute position: the decode step's position input."""
        cos, sin = rotary_tables(1, self.layers[0].attention.head_dim, start=position)
        return cos[0], sin[0]


@register_model
def tiny_lm(vocab_size: Vocabulary = 1024, dim: PositiveInt = 128, depth: PositiveInt = 4, heads: PositiveInt = 4,
            hidden: PositiveInt = 384, context: Context = 128, score_cap: PositiveNumber = 8.0,
            mask_value: Negative = -24.0) -> TinyLM:
    return TinyLM(vocab_size, dim, depth, heads, hidden, context, score_cap, mask_value)


class DecodeStep(nn.Module):
    """One generated token with a KV cache: the same weights and arithmetic as TinyLM, for the newest token only.

    forward(x, cos, sin, k_cache, v_cache, visible) → (logits, new_k, new_v):
      x        (B, 1, dim)              the new token's embedding (a row of the int8 table)
      cos, sin (B, 1, head_dim)         its rotary row for its absolute position p (the app computes them)
      k_cache  (B, depth * slots, dim)  rotated keys of the previous tokens, layer l in rows l*slots … l*slots+slots-1
      v_cache  (B, depth * slots, dim)  their values
      visible  (B, 1, slots + 1)        1 for filled cache slots, 0 for empty ones; the last entry (the token
                                        itself) is always 1
      logits   (B, 1, vocab); new_k, new_v (B, depth, dim): this token's rotated keys and values per layer, which
      the app writes into slot p % slots of each layer.
    With slots = context - 1 the token attends to the previous context - 1 tokens and itself, as in the
    fixed-window graph: rotary embeddings make the scores depend only on relative positions, and the softmax
    on neither the slots' order nor their absolute positions, so a ring buffer gives the fixed window's result
    — at one token's cost instead of `context` tokens'.
    """

    def __init__(self, lm: TinyLM):
        super().__init__()
        self.lm = lm
        self.slots = lm.context - 1
        self.depth, self.dim = len(lm.layers), lm.token_embedding.weight.shape[1]

    def forward(self, x, cos, sin, k_cache, v_cache, visible):
        new_k, new_v = [], []
        cos, sin = cos[:, None], sin[:, None]                     # (B, 1, 1, head_dim): every head
        visible = visible[:, None]                                 # (B, 1, 1, slots + 1)
        hidden_value = (1.0 - visible) * self.lm.layers[0].attention.mask_value
        for index, layer in enumerate(self.lm.layers):
            att = layer.attention
            rows = slice(index * self.slots, (index + 1) * self.slots)
            h = layer.attention_norm(x)
            q, k, v = (att.split_heads(w(h)) for w in (att.wq, att.wk, att.wv))   # (B, heads, 1, head_dim)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            all_k = torch.cat([att.split_heads(k_cache[:, rows]), k], dim=2)
            all_v = torch.cat([att.split_heads(v_cache[:, rows]), v], dim=2)
            x = x + att.attend(q, all_k, all_v, visible, hidden_value)
            x = x + layer.mlp(x)
            new_k.append(k.transpose(1, 2).reshape(x.shape[0], 1, -1))
            new_v.append(v.transpose(1, 2).reshape(x.shape[0], 1, -1))
        logits = nn.functional.linear(self.lm.norm(x), self.lm.token_embedding.weight)
        return logits, torch.cat(new_k, dim=1), torch.cat(new_v, dim=1)
