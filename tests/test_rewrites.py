"""NPU-ready rewrites (common/rewrites.py): each is exact in float on the exported graph, and turns a stock layer
ExecuTorch's Arm quantizer leaves on the CPU into one the NPU runs (issue 24: nn.RMSNorm, nn.AdaptiveAvgPool1d)."""
import pytest
import torch
from tinyzoo.common.deploy import deploy_model
from tinyzoo.common.quantize import export_graph
from torch import nn


class SwiGLUBlock(nn.Module):
    """A Llama-style block without attention: RMSNorm → SwiGLU MLP, residual; RMSNorm at the end."""

    def __init__(self, dim=32, hidden=64):
        super().__init__()
        self.norm, self.out_norm = nn.RMSNorm(dim, eps=1e-6), nn.RMSNorm(dim)
        self.gate, self.up, self.down = nn.Linear(dim, hidden), nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        h = self.norm(x)
        return self.out_norm(x + self.down(nn.functional.silu(self.gate(h)) * self.up(h)))


def conv1d_net():
    return nn.Sequential(nn.Conv1d(4, 16, 3), nn.ReLU(), nn.Conv1d(16, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
                         nn.Flatten(), nn.Linear(16, 5))


def ops(graph) -> list[str]:
    return [str(n.target) for n in graph.graph.nodes if n.op == "call_function"]


@pytest.mark.parametrize("norm", [nn.RMSNorm(24), nn.RMSNorm([6, 24], eps=1e-3),
                                  nn.RMSNorm(24, elementwise_affine=False)])
def test_rms_norm_is_decomposed_exactly(norm):
    torch.manual_seed(0)
    if norm.weight is not None:
        nn.init.uniform_(norm.weight, 0.5, 2)
    model = nn.Sequential(nn.Linear(24, 24), norm).eval()
    x = torch.randn(1, 6, 24)
    graph = export_graph(model, (x,))
    assert graph.meta["rewrites"] == {"rms_norm": 1} and "aten.rms_norm.default" not in ops(graph)
    assert torch.allclose(graph(x), model(x), atol=1e-6)
    assert export_graph(model, (x,), rewrite=False).meta["rewrites"] == {}


def test_adaptive_avg_pool1d_is_a_mean_exactly():
    torch.manual_seed(0)
    model, x = conv1d_net().eval(), torch.randn(1, 4, 40)
    graph = export_graph(model, (x,))
    assert graph.meta["rewrites"] == {"adaptive_avg_pool1d": 1}
    assert "aten.adaptive_avg_pool1d.default" not in ops(graph) and "aten.mean.dim" in ops(graph)
    assert torch.allclose(graph(x), model(x), atol=1e-6)
    wider = nn.Sequential(nn.Conv1d(4, 8, 3), nn.AdaptiveAvgPool1d(2)).eval()    # output size 2: left alone
    assert export_graph(wider, (x,)).meta["rewrites"] == {}


@pytest.mark.lowering
@pytest.mark.parametrize("name, model, shape", [("swiglu", SwiGLUBlock, (1, 8, 32)),
                                                ("conv1d", conv1d_net, (1, 4, 40))])
def test_stock_layers_deploy_whole_onto_u55_and_u85(tmp_path, name, model, shape):
    torch.manual_seed(0)
    net, x = model().eval(), torch.randn(*shape)
    calibration = [torch.randn(16, *shape[1:])]
    metrics = deploy_model(net, (x,), targets=["ethos-u55-128", "ethos-u85-256"], out_dir=tmp_path / "on",
                           calibration=calibration, name=f"test/{name}", log=lambda *_: None)
    assert metrics["quantization"]["rewrites"] in ({"rms_norm": 2}, {"adaptive_avg_pool1d": 1})
    for target, r in metrics["targets"].items():
        assert r["cpu_ops"] == 0, (target, r.get("cpu_op_names"))
        fidelity = metrics["fidelity"]
        assert fidelity["tosa_int8"][target]["sqnr_db"] >= fidelity["fake_quant_int8"]["sqnr_db"] - 1
    card = next((tmp_path / "on").glob("card/*.md")).read_text()
    assert "Rewritten for the NPU before quantization" in card
    off = deploy_model(net, (x,), targets=["ethos-u85-256"], out_dir=tmp_path / "off", calibration=calibration,
                       name=f"test/{name}", rewrite=False, log=lambda *_: None)
    assert off["targets"]["ethos-u85-256"]["cpu_ops"] > 0 and "rewrites" not in off["quantization"]


def lower_with_executorch_passes_only(*args, **kwargs):
    """The chain's lowering without its own Arm passes (common/arm_passes.py): ExecuTorch's pipeline as it ships.
    Run in the lowering child process, so it switches them off there."""
    import contextlib

    from tinyzoo.common import arm_passes, lower

    arm_passes.registered = contextlib.nullcontext
    return lower.lower_saved(*args, **kwargs)


class SmallUNet(nn.Module):
    """Issue 24's smallest diverging graph: Conv→ReLU (a) → max-pool → Conv→ReLU → ConvTranspose2d(k=2, s=2) →
    cat([up, a]) → Conv."""

    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.b = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.out = nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x):
        a = self.a(x)
        return self.out(torch.cat([self.up(self.b(a)), a], dim=1))


@pytest.mark.lowering
def test_the_unet_divergence_is_fixed_by_the_chain_and_caught_without_it(tmp_path, monkeypatch):
    """Issue 24's U-Net: through the chain its integer TOSA graph follows fake-quant (1 LSB). Its divergence came
    from ExecuTorch's FuseQuantizedActivationPass, which common/arm_passes.py replaces: without the chain's passes
    (monkeypatched off) the graph parts by ~98 LSB, and the gate (common.chain.diverging) says so loudly, records
    it, warns in the card, and with strict stops the deploy naming the target."""
    from tinyzoo.common import lower
    from tinyzoo.common.chain import diverging
    from tinyzoo.common.errors import DivergenceError

    assert diverging({"max_lsb_diff_tosa_fake_quant": {"t": 13}, "fake_quant_int8": {"sqnr_db": 30.0},
                      "tosa_int8": {"t": {"sqnr_db": 29.0}}}) == {}
    assert diverging({"max_lsb_diff_tosa_fake_quant": {"t": 40}}) == {"t": "40 LSB from fake-quant"}
    torch.manual_seed(0)
    net, x, calibration = SmallUNet().eval(), torch.randn(1, 3, 32, 32), [torch.randn(16, 3, 32, 32)]
    fixed = deploy_model(net, (x,), targets=["ethos-u85-256"], out_dir=tmp_path / "chain", calibration=calibration,
                         name="test/unet", log=lambda *_: None)
    fid = fixed["fidelity"]
    assert "divergence" not in fixed and fid["max_lsb_diff_tosa_fake_quant"]["ethos-u85-256"] <= 2
    assert fid["tosa_int8"]["ethos-u85-256"]["sqnr_db"] >= fid["fake_quant_int8"]["sqnr_db"] - 1

    monkeypatch.setattr(lower, "lower_saved", lower_with_executorch_passes_only)   # in the lowering child
    said = []
    broken = deploy_model(net, (x,), targets=["ethos-u85-256"], out_dir=tmp_path / "stock", calibration=calibration,
                          name="test/unet", log=said.append)
    assert "LSB from fake-quant" in broken["divergence"]["ethos-u85-256"]
    assert any(line.startswith("WARNING ethos-u85-256: the integer graph the NPU runs is not the int8 model")
               for line in said)
    assert "the NPU does not compute the int8 model that was validated" in next(
        (tmp_path / "stock").glob("card/*.md")).read_text()
    with pytest.raises(DivergenceError, match="ethos-u85-256: the integer TOSA graph diverges"):
        deploy_model(net, (x,), targets=["ethos-u85-256"], out_dir=tmp_path / "strict", calibration=calibration,
                     name="test/unet", strict=True, log=lambda *_: None)


def test_quantizing_leaves_the_float_model_as_it_was():
    """Issue 24's `cat([conv_a(x), 5 * conv_b(x)])` at 1.9 dB was not int8 losing the model: ExecuTorch's Arm
    quantizer folds the `* 5` into conv_b's weights in place (FoldScalarMulIntoConvPass), and the exported graph
    shared them with the user's module, so the *float* model came out 5x off. The chain quantizes a copy: the
    float model is untouched and int8 follows it."""
    from tinyzoo.common.quantize import quantize_ptq
    from tinyzoo.common.verify import sqnr_db

    class Cat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            return torch.cat([self.a(x), 5 * self.b(x)], dim=1)

    torch.manual_seed(0)
    model, x = Cat().eval(), torch.randn(4, 3, 16, 16)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        before = model(x)
        quantized = quantize_ptq(model, (x[:1],), [torch.randn(16, 3, 16, 16)], target="ethos-u85-256")
        int8 = torch.cat([quantized(x[i:i + 1]) for i in range(len(x))])
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert sqnr_db(before.numpy(), int8.numpy()) > 25
