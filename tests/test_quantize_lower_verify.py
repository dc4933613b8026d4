"""The quantize → lower → TOSA-reference path on a tiny model: the integer graph Vela compiles must compute
what the fake-quant model computes."""
import numpy as np
import pytest
import torch
from tinyzoo.common.errors import CpuFallbackError, UnknownTargetError
from tinyzoo.common.lower import lower_ethos_u
from tinyzoo.common.quantize import io_quant_params, quantize_ptq
from tinyzoo.common.verify import compare, dequantize, logits_of, quantize, run_tosa
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = torch.relu(self.dw(x))
        return self.fc(self.pool(x).flatten(1))


class WithComparison(Tiny):
    def forward(self, x):
        x = super().forward(x)
        return torch.where(x > 0, x, x * 0.5)  # comparisons and where are not supported on U55


@pytest.fixture(scope="module")
def quantized():
    torch.manual_seed(0)
    model = Tiny().eval()
    data = torch.randn(64, 1, 12, 10)
    q = quantize_ptq(model, (data[:1],), [data[:32], data[32:]], target="ethos-u55-128")
    return model, q, data


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u85-256"])
def test_tosa_graph_equals_fake_quant(quantized, target, tmp_path):
    model, q, data = quantized
    low = lower_ethos_u(q, (data[:1],), target, tmp_path / target)
    assert low.cpu_ops == 0 and low.npu_ops > 0 and low.partitions == 1
    assert low.pte_path.stat().st_size > 1000
    assert (low.vela_dir).is_dir() and list(low.vela_dir.glob("*summary*.csv"))

    io = io_quant_params(q)
    assert io["input"]["dtype"] == "int8" and io["input"]["scale"] > 0
    test = torch.randn(40, 1, 12, 10)
    raw, rate = run_tosa(low.tosa_path, quantize(test, io["input"]))
    assert raw.dtype == np.int8 and raw.shape == (40, 4) and rate > 0
    fake_quant = logits_of(q, test)   # the static batch-1 graph, one sample at a time
    fake_quant_int = quantize(fake_quant, io["output"]).astype(int)
    assert np.abs(raw.astype(int) - fake_quant_int).max() <= 1  # integer rounding may differ by one LSB
    assert np.array_equal(dequantize(raw, io["output"]).argmax(1), fake_quant.argmax(1).numpy())

    labels = torch.randint(0, 4, (40,))
    result = compare(model, q, test, labels, {target: low.tosa_path}, io, num_classes=4)
    assert result["agreement_tosa_fake_quant"][target] == 1.0
    assert result["max_lsb_diff_tosa_fake_quant"][target] <= 1
    assert sum(map(sum, result["confusion"]["matrix"])) == 40


def test_cpu_fallback_is_named_and_nothing_written(tmp_path):
    torch.manual_seed(0)
    model = WithComparison().eval()
    data = torch.randn(16, 1, 12, 10)
    q = quantize_ptq(model, (data[:1],), [data], target="ethos-u55-128")
    out = tmp_path / "u55"
    with pytest.raises(CpuFallbackError, match=r"ethos-u55-128: .*(gt|where)"):
        lower_ethos_u(q, (data[:1],), "ethos-u55-128", out)
    assert not out.exists()
    low = lower_ethos_u(q, (data[:1],), "ethos-u55-128", out, allow_cpu_fallback=True)
    assert low.cpu_ops > 0 and any("where" in n or "gt" in n for n in low.cpu_op_names)
    # each CPU op says why and where it came from: the model's own source line and module
    where = next(d for d in low.cpu_op_details if "where" in d["op"])
    assert "test_quantize_lower_verify.py:" in where["source"] and "WithComparison" in where["module"]
    assert where["reason"] and "not claimed" not in where["reason"]


def test_static_graph_and_reproducible_pte(quantized, tmp_path):
    """The quantized graph was traced at the deployed static batch-1 shape (no symbolic batch), and lowering the
    same model twice gives byte-identical .pte and TOSA files (no temporary path inside)."""
    _, q, data = quantized
    placeholder = next(n for n in q.graph.nodes if n.op == "placeholder")
    assert tuple(placeholder.meta["val"].shape) == (1, 1, 12, 10)
    assert all(isinstance(d, int) for d in placeholder.meta["val"].shape)
    a = lower_ethos_u(q, (data[:1],), "ethos-u55-128", tmp_path / "a")
    b = lower_ethos_u(q, (data[:1],), "ethos-u55-128", tmp_path / "b")
    assert a.pte_path.read_bytes() == b.pte_path.read_bytes()
    assert a.tosa_path.read_bytes() == b.tosa_path.read_bytes()
    assert (b"tinyzoo-" + b"ethos" not in a.pte_path.read_bytes()
            and str(tmp_path).encode() not in a.pte_path.read_bytes())


def test_unknown_target(quantized, tmp_path):
    _, q, data = quantized
    with pytest.raises(UnknownTargetError, match="ethos-u55-128"):
        lower_ethos_u(q, (data[:1],), "ethos-u56-128", tmp_path)


def test_vela_report_per_target(quantized, tmp_path):
    """The per-target report is read from Vela's CSVs and is self-consistent."""
    from tinyzoo.common.report import macs_per_cycle, target_report

    model, q, data = quantized
    low = lower_ethos_u(q, (data[:1],), "ethos-u55-128", tmp_path / "u55")
    r = target_report(low)
    assert r["system_config"] == "Ethos_U55_High_End_Embedded" and r["core_clock_hz"] == 500e6
    assert r["cycles"] > 0 and r["macs"] > 0 and r["sram_kib"] > 0 and r["flash_kib"] > 0
    assert r["inference_time_ms"] == pytest.approx(r["cycles"] / r["core_clock_hz"] * 1000, rel=1e-3)
    assert r["mac_utilisation"] == pytest.approx(r["macs"] / (r["cycles"] * 128), abs=1e-4)
    assert r["pte_bytes"] == low.pte_path.stat().st_size
    assert r["npu_ops"] == low.npu_ops and r["cpu_ops"] == 0 and r["npu_op_fraction"] == 1.0
    assert r["layers"] and sum(layer["macs"] for layer in r["layers"]) == r["macs"]
    assert macs_per_cycle("ethos-u85-2048") == 2048


def test_qat_lowers_fully_and_matches_its_tosa_graph(tmp_path):
    """QAT (batch norm folded, fake quantizers trained) gives a graph that lowers 100 % to the NPU and whose
    integer TOSA graph computes what the QAT fake-quant model computes."""
    from tinyzoo.common.quantize import convert_qat, prepare_qat
    from tinyzoo.common.train import fit

    torch.manual_seed(0)
    model = Tiny().eval()
    x = torch.randn(96, 1, 12, 10)
    y = (x.mean((1, 2, 3)) > 0).long() + 2 * (x[:, 0, :6].mean((1, 2)) > 0).long()
    qat = prepare_qat(model, (x[:1],), target="ethos-u55-128", batch_size=16)
    data = torch.utils.data.TensorDataset(x[:90], y[:90])   # 5 full batches and a partial one, dropped
    result = fit(qat, data, {"epochs": 2, "batch_size": 16, "lr": 1e-3, "seed": 0}, tmp_path / "qat.pt",
                 log_fn=lambda *_: None, drop_last=True)
    assert result.epochs_run == 2
    # converting the trained batch-16 graph itself: what the batch-1 graph must compute with the state copied in
    import copy

    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
    trained = convert_pt2e(copy.deepcopy(qat.graph_module))(x[:16]).detach()
    q = convert_qat(qat, (x[:1],))
    assert torch.allclose(logits_of(q, x[:16]), trained, atol=1e-6)
    low = lower_ethos_u(q, (x[:1],), "ethos-u55-128", tmp_path / "u55")
    assert low.cpu_ops == 0 and low.partitions == 1
    io = io_quant_params(q)
    raw, _ = run_tosa(low.tosa_path, quantize(x[:32], io["input"]))
    assert np.abs(raw.astype(int) - quantize(logits_of(q, x[:32]), io["output"]).astype(int)).max() <= 1


class TokensWithLayerNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.norm, self.head = nn.Linear(4, 16), nn.LayerNorm(16), nn.Linear(16, 3)

    def forward(self, x):                      # (batch, tokens, 4)
        return self.head(self.norm(self.embed(x))[:, 0])


@pytest.mark.parametrize("floored", [True, False])
def test_qat_layernorm_survives_a_token_with_almost_no_variance(floored, monkeypatch):
    """Stock nn.LayerNorm under QAT: a token whose variance is under half a step of the int8 var+eps scale (here
    an all-zero token, embedded to the bias, next to large ones) made rsqrt(0) = inf and the loss NaN at the first
    batch; with the rsqrt input floored at half a step it trains, and converts to the batch-1 int8 graph."""
    from tinyzoo.common import quantize as q

    if not floored:
        monkeypatch.setattr(q, "saturate_rsqrt", lambda prepared: 0)
    torch.manual_seed(0)
    model = TokensWithLayerNorm()
    x = torch.randn(8, 5, 4) * 50
    x[:, 2] = 0                                 # e.g. a SpecAugment-masked frame
    qat = q.prepare_qat(model, (x[:1],), target="ethos-u55-128", batch_size=8)
    loss = nn.functional.cross_entropy(qat.train()(x), torch.arange(8) % 3)
    assert torch.isfinite(loss).item() is floored
    if floored:
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in qat.parameters() if p.grad is not None)
        converted = q.convert_qat(qat, (x[:1],))
        assert not any(n.target == torch.ops.aten.maximum.default for n in converted.graph.nodes)   # not deployed
        assert torch.isfinite(converted(x[:1])).all()


def test_qat_training_leaves_the_float_model_as_trained():
    """The QAT graph trains its own copy of the weights: the float model (whose accuracy the card reports as
    'float') is unchanged by QAT fine-tuning, also for a model without batch norm."""
    from tinyzoo.common import quantize as q

    torch.manual_seed(0)
    model = TokensWithLayerNorm()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(8, 5, 4)
    qat = q.prepare_qat(model, (x[:1],), target="ethos-u55-128", batch_size=8)
    optimizer = torch.optim.SGD(qat.parameters(), lr=0.5)
    nn.functional.cross_entropy(qat.train()(x), torch.arange(8) % 3).backward()
    optimizer.step()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


class OneHeadAttention(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, 1, batch_first=True)
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        return self.head(self.attention(x, x, x, need_weights=False)[0][:, 0])


def test_qat_trained_at_a_batch_converts_at_batch_1_when_the_graphs_differ_by_a_no_op():
    """nn.MultiheadAttention with one head calls .contiguous(): a clone (with its own observer) in the graph at
    batch 8, nothing at batch 1. The trained fake-quantizers are matched to the batch-1 graph's by the ops they
    observe; the clone's is dropped. The converted model is the trained one, not a fresh one."""
    from tinyzoo.common import quantize as q

    torch.manual_seed(0)
    x = torch.randn(8, 5, 8)
    qat = q.prepare_qat(OneHeadAttention(), (x[:1],), target="ethos-u55-128", batch_size=8)
    static = q.prepare_qat(OneHeadAttention(), (x[:1],), target="ethos-u55-128", batch_size=1).graph_module
    moves = q.observer_moves(qat.graph_module, static)
    dropped = [name for name, to in moves.items() if to is None]
    assert len(dropped) == 1 and len(moves) == len(q._observers(static)) + 1
    qat.train()(x)                              # observers see data
    with torch.no_grad():
        qat.graph_module.get_parameter(next(n for n, _ in qat.graph_module.named_parameters())).add_(1.0)
    trained = qat.eval()(x)[:1]
    converted = q.convert_qat(qat, (x[:1],))
    torch.testing.assert_close(converted(x[:1]), trained, atol=0.05, rtol=0.05)
