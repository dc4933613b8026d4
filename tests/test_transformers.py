"""Transformer recipes on the quantize → lower → TOSA-reference path, at tiny sizes: everything on the NPU
and the integer graph computing what the fake-quant model computes (softmax, GELU and rsqrt are table
look-ups in the integer graph, so a few LSB of difference are expected)."""
import numpy as np
import pytest
import torch

from common.lower import lower_ethos_u
from common.quantize import io_quant_params, quantize_ptq
from common.verify import quantize, run_tosa
from common.layers import LayerNorm
from recipes.kws.kwt.model import kwt


def test_layer_norm_is_torchs():
    x = torch.randn(3, 7, 16)
    ours = LayerNorm(16)
    torch.testing.assert_close(ours(x), torch.nn.functional.layer_norm(x, (16,), eps=1e-5), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u85-256"])
def test_tiny_kwt_lowers_fully_and_matches_fake_quant(target, tmp_path):
    torch.manual_seed(0)
    model = kwt(num_classes=4, frames=12, n_mfcc=10, dim=16, depth=1, heads=2, mlp_dim=32).eval()
    x = torch.randn(64, 1, 12, 10) * 10
    q = quantize_ptq(model, (x[:1],), [x[:32], x[32:]], target=target)
    low = lower_ethos_u(q, (x[:1],), target, tmp_path / target)
    assert low.cpu_ops == 0 and low.partitions == 1
    io = io_quant_params(q)
    test = torch.randn(24, 1, 12, 10) * 10
    raw, _ = run_tosa(low.tosa_path, quantize(test, io["input"]))
    fake = quantize(q(test).detach(), io["output"]).astype(int)
    assert np.abs(raw.astype(int) - fake).max() <= 4
    assert (raw.argmax(1) == fake.argmax(1)).mean() >= 0.9


def test_tiny_vit_lowers_fully_on_u55(tmp_path):
    from recipes.vision.vit_tiny_cifar10.model import vit_tiny

    torch.manual_seed(0)
    model = vit_tiny(num_classes=3, image_size=16, patch=4, dim=16, depth=1, heads=2, mlp_dim=32).eval()
    x = torch.randn(48, 3, 16, 16)
    q = quantize_ptq(model, (x[:1],), [x[:24], x[24:]], target="ethos-u55-128")
    low = lower_ethos_u(q, (x[:1],), "ethos-u55-128", tmp_path / "u55")
    assert low.cpu_ops == 0 and low.partitions == 1
    io = io_quant_params(q)
    raw, _ = run_tosa(low.tosa_path, quantize(x[:16], io["input"]))
    assert np.abs(raw.astype(int) - quantize(q(x[:16]).detach(), io["output"]).astype(int)).max() <= 4
