"""Transformers on the quantize → lower → TOSA-reference path at the static batch-1 shape, at tiny sizes:
the recipes' models and stock PyTorch layers (nn.TransformerEncoder, nn.LayerNorm, a learned
class token through expand + cat, as a user writes them): everything on the NPU and the integer graph computing
what the fake-quant model computes (softmax, GELU and rsqrt are table look-ups in the integer graph, so a few
LSB of difference are expected)."""
import numpy as np
import pytest
import torch
from tinyzoo.common.lower import lower_ethos_u
from tinyzoo.common.quantize import (
    convert_qat,
    io_quant_params,
    prepare_qat,
    quantize_ptq,
)
from tinyzoo.common.verify import logits_of, quantize, run_tosa
from tinyzoo.recipes.kws.kwt.model import kwt
from torch import nn

pytestmark = pytest.mark.lowering   # transformer graphs take 20-40 s each to quantize and lower on 2 cores


class StockEncoder(nn.Module):
    """A KWT-style classifier written with stock layers only."""

    def __init__(self, frames=12, features=10, dim=16, classes=4):
        super().__init__()
        self.embed = nn.Linear(features, dim)
        self.class_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, frames + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, 2, 2 * dim, 0.0, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        tokens = self.embed(x.squeeze(1))
        tokens = torch.cat([self.class_token.expand(tokens.shape[0], -1, -1), tokens], dim=1) + self.pos
        return self.head(self.norm(self.encoder(tokens))[:, 0])


def _lowers_and_matches(model, x, target, tmp_path, lsb=4):
    q = quantize_ptq(model, (x[:1],), [x[:32], x[32:]], target=target)
    low = lower_ethos_u(q, (x[:1],), target, tmp_path / target)
    assert low.cpu_ops == 0 and low.partitions == 1
    io = io_quant_params(q)
    test = x[:24] + 0.1 * torch.randn_like(x[:24])
    raw, _ = run_tosa(low.tosa_path, quantize(test, io["input"]))
    fake = quantize(logits_of(q, test), io["output"]).astype(int)
    assert np.abs(raw.astype(int) - fake).max() <= lsb
    assert (raw.argmax(1) == fake.argmax(1)).mean() >= 0.9


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u85-256"])
def test_tiny_kwt_lowers_fully_and_matches_fake_quant(target, tmp_path):
    torch.manual_seed(0)
    model = kwt(num_classes=4, frames=12, n_mfcc=10, dim=16, depth=1, heads=2, mlp_dim=32).eval()
    _lowers_and_matches(model, torch.randn(64, 1, 12, 10) * 10, target, tmp_path)


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u85-256"])
def test_stock_transformer_with_class_token_lowers_fully(target, tmp_path):
    """What the dynamic-batch chain could not take: stock layers quantize and lower whole at batch 1."""
    torch.manual_seed(0)
    _lowers_and_matches(StockEncoder().eval(), torch.randn(64, 1, 12, 10), target, tmp_path)


def test_stock_transformer_qat_at_a_static_batch_lowers_fully_on_u55(tmp_path):
    """QAT of stock layers: trained at a static batch of 8 (the last partial batch dropped), converted at batch 1
    with the trained state (the class token's expand is folded per batch size), lowered whole, TOSA = fake-quant
    within a few LSB."""
    from tinyzoo.common.train import fit

    torch.manual_seed(0)
    model = StockEncoder(classes=3).eval()
    x = torch.randn(52, 1, 12, 10)
    y = (x[:, 0, :, 0].mean(1) > 0).long() + (x[:, 0, :, 1].mean(1) > 0).long()
    qat = prepare_qat(model, (x[:1],), target="ethos-u55-128", batch_size=8)
    fit(qat, torch.utils.data.TensorDataset(x, y), {"epochs": 1, "batch_size": 8, "lr": 1e-3, "seed": 0},
        tmp_path / "qat.pt", log_fn=lambda *_: None, drop_last=True)
    q = convert_qat(qat, (x[:1],))
    low = lower_ethos_u(q, (x[:1],), "ethos-u55-128", tmp_path / "u55")
    assert low.cpu_ops == 0 and low.partitions == 1
    io = io_quant_params(q)
    raw, _ = run_tosa(low.tosa_path, quantize(x[:16], io["input"]))
    assert np.abs(raw.astype(int) - quantize(logits_of(q, x[:16]), io["output"]).astype(int)).max() <= 4


def test_tiny_vit_lowers_fully_on_u55(tmp_path):
    from tinyzoo.recipes.vision.vit_tiny_cifar10.model import vit_tiny

    torch.manual_seed(0)
    model = vit_tiny(num_classes=3, image_size=16, patch=4, dim=16, depth=1, heads=2, mlp_dim=32).eval()
    x = torch.randn(48, 3, 16, 16)
    q = quantize_ptq(model, (x[:1],), [x[:24], x[24:]], target="ethos-u55-128")
    low = lower_ethos_u(q, (x[:1],), "ethos-u55-128", tmp_path / "u55")
    assert low.cpu_ops == 0 and low.partitions == 1
    io = io_quant_params(q)
    raw, _ = run_tosa(low.tosa_path, quantize(x[:16], io["input"]))
    assert np.abs(raw.astype(int) - quantize(logits_of(q, x[:16]), io["output"]).astype(int)).max() <= 4
