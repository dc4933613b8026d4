"""int8 quantization with ExecuTorch's Arm quantizer (PT2E): PTQ on a committed calibration list, or QAT.

The quantized model returned here is the *fake-quant* model: a torch GraphModule whose quantize/dequantize
nodes simulate int8 in float. Lowering (common/lower.py) turns the same graph into the integer TOSA graph that
Vela compiles, so the two can be compared prediction by prediction (common/verify.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import nn

from common.errors import TinyzooError

SCHEMES = ("a8w8", "a16w8")


def _quantizer(target: str, scheme: str, *, qat: bool = False):
    from executorch.backends.arm.ethosu import EthosUCompileSpec
    from executorch.backends.arm.quantizer import (
        EthosUQuantizer,
        get_symmetric_a16w8_quantization_config,
        get_symmetric_quantization_config,
    )

    if scheme not in SCHEMES:
        raise TinyzooError(f"unknown quantization scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    quantizer = EthosUQuantizer(EthosUCompileSpec(target))
    if scheme == "a8w8":
        quantizer.set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=qat))
    else:
        quantizer.set_global(get_symmetric_a16w8_quantization_config(is_per_channel=True, is_qat=qat))
    return quantizer


def export_graph(model: nn.Module, example_inputs: tuple, dynamic_batch: bool = False) -> torch.fx.GraphModule:
    """torch.export → GraphModule, as the PT2E quantizer wants it (no `_guards_fn`, see the ExecuTorch notes)."""
    dynamic_shapes = None
    if dynamic_batch:  # traced at batch 2: torch.export specialises a batch of 1
        example_inputs = tuple(torch.cat([x[:1], x[:1]]) for x in example_inputs)
        batch = torch.export.Dim("batch", min=1, max=4096)
        dynamic_shapes = tuple({0: batch} for _ in example_inputs)
    return torch.export.export(model, example_inputs, dynamic_shapes=dynamic_shapes).module(check_guards=False)


def quantize_ptq(model: nn.Module, example_inputs: tuple, calibration: Iterable[torch.Tensor],
                 *, target: str, scheme: str = "a8w8") -> torch.fx.GraphModule:
    """Post-training quantization: observe activation ranges on the calibration batches, then convert."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    prepared = prepare_pt2e(export_graph(model.eval(), example_inputs, dynamic_batch=True), _quantizer(target, scheme))
    seen = 0
    with torch.no_grad():
        for batch in calibration:   # a tensor, or a tuple of tensors for a model with several inputs
            inputs = batch if isinstance(batch, tuple) else (batch,)
            prepared(*inputs)
            seen += len(inputs[0])
    if seen == 0:
        raise TinyzooError("PTQ needs at least one calibration sample; the calibration list is empty")
    return convert_pt2e(prepared)


class QatModel(nn.Module):
    """A PT2E QAT graph as an nn.Module for the training loop. The graph is exported from the float model in eval
    mode with batch norm folded into the convolutions (statistics frozen at their trained values, the usual QAT
    fine-tuning practice; dropout off); the fake quantizers observe and round in every mode."""

    def __init__(self, prepared: torch.fx.GraphModule):
        super().__init__()
        self.graph_module = prepared

    def train(self, mode: bool = True):
        self.training = mode
        return self

    def forward(self, x):
        return self.graph_module(x)


def prepare_qat(model: nn.Module, example_inputs: tuple, *, target: str, scheme: str = "a8w8") -> QatModel:
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    from torch.fx.experimental.optimization import fuse

    # Fold batch norm into the convolutions first: the QAT conv-bn pattern that prepare_qat_pt2e inserts is not
    # folded back by convert_pt2e with torch 2.14 / torchao, and would leave BN ops on the CPU.
    graph = export_graph(fuse(model.eval(), inplace=False), example_inputs, dynamic_batch=True)
    return QatModel(prepare_qat_pt2e(graph, _quantizer(target, scheme, qat=True)))


def convert_qat(qat_model: QatModel) -> torch.fx.GraphModule:
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    return convert_pt2e(qat_model.graph_module)


def io_quant_params(quantized: torch.fx.GraphModule) -> dict:
    """Scale and zero point of the model's input and output, as firmware must apply them."""
    q_ops = {torch.ops.quantized_decomposed.quantize_per_tensor.default}
    dq_ops = {torch.ops.quantized_decomposed.dequantize_per_tensor.default}
    nodes = list(quantized.graph.nodes)
    placeholder = next(n for n in nodes if n.op == "placeholder")
    quant = next((u for u in placeholder.users if u.target in q_ops), None)
    output = next(n for n in nodes if n.op == "output")
    last = output.args[0][0] if isinstance(output.args[0], (tuple, list)) else output.args[0]
    if quant is None or last.target not in dq_ops:
        raise TinyzooError("the quantized model does not start with a quantize and end with a dequantize op; "
                           "int8 input/output needs both (is the first or last layer left in float?)")

    def params(node):
        scale, zero_point, qmin, qmax, dtype = node.args[1:6]
        return {"scale": float(scale), "zero_point": int(zero_point), "qmin": int(qmin), "qmax": int(qmax),
                "dtype": str(dtype).replace("torch.", "")}

    return {"input": params(quant), "output": params(last)}


def all_io_quant_params(quantized: torch.fx.GraphModule) -> dict:
    """`io_quant_params` for a model with several inputs and outputs: {"inputs": [...], "outputs": [...]}, in the
    order of the model's arguments and results."""
    q_ops = {torch.ops.quantized_decomposed.quantize_per_tensor.default}
    dq_ops = {torch.ops.quantized_decomposed.dequantize_per_tensor.default}
    nodes = list(quantized.graph.nodes)

    def params(node):
        scale, zero_point, qmin, qmax, dtype = node.args[1:6]
        return {"scale": float(scale), "zero_point": int(zero_point), "qmin": int(qmin), "qmax": int(qmax),
                "dtype": str(dtype).replace("torch.", "")}

    inputs = []
    for placeholder in (n for n in nodes if n.op == "placeholder"):
        quant = next((u for u in placeholder.users if u.target in q_ops), None)
        if quant is None:
            raise TinyzooError(f"input {placeholder.name} is not quantized: int8 I/O needs every input quantized")
        inputs.append(params(quant))
    output = next(n for n in nodes if n.op == "output")
    results = output.args[0] if isinstance(output.args[0], (tuple, list)) else [output.args[0]]
    if any(r.target not in dq_ops for r in results):
        raise TinyzooError("an output of the quantized model does not end with a dequantize op")
    return {"inputs": inputs, "outputs": [params(r) for r in results]}


def read_calibration_list(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.exists():
        raise TinyzooError(f"calibration list {path} does not exist; write one with "
                           f"`tinyzoo calibration <model>` (it picks training clips with a fixed seed)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def write_calibration_list(ids: Sequence[str], path: str | Path, header: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    lines = [f"# {line}" for line in header.splitlines()] + list(ids)
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def load_quantized_program(path: str | Path) -> torch.export.ExportedProgram:
    """Load a saved int8 fake-quant program (`model_int8.pt2`) in a fresh process: its quantize/dequantize ops
    must be registered first, which importing the PT2E quantization module does."""
    from torchao.quantization.pt2e import quantize_pt2e  # noqa: F401  (registers quantized_decomposed ops)

    return torch.export.load(str(path))
