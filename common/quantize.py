"""int8 quantization with ExecuTorch's Arm quantizer (PT2E): PTQ on a committed calibration list, or QAT.

The quantized model returned here is the *fake-quant* model: a torch GraphModule whose quantize/dequantize
nodes simulate int8 in float. Lowering (common/lower.py) turns the same graph into the integer TOSA graph that
Vela compiles, so the two can be compared prediction by prediction (common/verify.py).
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import torch
from tinyzoo.common import rewrites, targets
from tinyzoo.common.errors import ExportError, TinyzooError
from torch import nn

SCHEMES = ("a8w8", "a16w8")
# how PTQ observes an activation's range: ExecuTorch's default HistogramObserver (chooses the range that minimises
# the quantization error, clipping rare outliers) or the plain min/max of the calibration data, as TFLite's
# converter does (MLPerf Tiny's reference flow)
OBSERVERS = ("histogram", "minmax")
# nn.Linear weights: one scale per output channel (ExecuTorch's default), or one per tensor as TFLite quantizes a
# FullyConnected; per tensor, Vela encodes (compresses) them better: fewer cycles where a model waits on its
# weights (dense layers, weights in flash on U55/U65), at some fidelity
LINEAR_WEIGHTS = ("per_channel", "per_tensor")


def _with_minmax_activations(config):
    """A QuantizationConfig whose activations are observed by their min/max (weights unchanged)."""
    import dataclasses

    from torchao.quantization.pt2e import MinMaxObserver

    def minmax(spec):
        if spec is None:
            return None
        return dataclasses.replace(spec, observer_or_fake_quant_ctr=MinMaxObserver.with_args(eps=2 ** -16))

    return dataclasses.replace(config, input_activation=minmax(config.input_activation),
                               output_activation=minmax(config.output_activation))


def _quantizer(target: str, scheme: str, *, qat: bool = False, observer: str = "histogram",
               linear_weights: str = "per_channel"):
    from executorch.backends.arm.quantizer import (
        EthosUQuantizer,
        get_symmetric_a16w8_quantization_config,
        get_symmetric_quantization_config,
    )

    if scheme not in SCHEMES:
        raise TinyzooError(f"unknown quantization scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if observer not in OBSERVERS:
        raise TinyzooError(f"unknown activation observer {observer!r}; choose one of {', '.join(OBSERVERS)}")
    if linear_weights not in LINEAR_WEIGHTS:
        raise TinyzooError(f"unknown linear weight granularity {linear_weights!r}; choose one of "
                           f"{', '.join(LINEAR_WEIGHTS)}")
    quantizer = EthosUQuantizer(targets.get(target).compile_spec())
    if scheme == "a8w8":
        config = get_symmetric_quantization_config(is_per_channel=True, is_qat=qat)
    else:
        config = get_symmetric_a16w8_quantization_config(is_per_channel=True, is_qat=qat)
    quantizer.set_global(_with_minmax_activations(config) if observer == "minmax" and not qat else config)
    if linear_weights == "per_tensor":
        _linear_weights_per_tensor(quantizer, (get_symmetric_quantization_config if scheme == "a8w8"
                                               else get_symmetric_a16w8_quantization_config)(is_per_channel=False,
                                                                                               is_qat=qat))
    return quantizer


def _linear_weights_per_tensor(quantizer, per_tensor) -> None:
    """After the quantizer's own annotation, every `linear`'s weight (and bias) takes `per_tensor`'s spec; the
    activations keep theirs, so a linear followed by a ReLU stays one quantized pattern (a module-type config for
    nn.Linear would annotate the two apart and quantize the linear's output before the ReLU)."""
    annotate = quantizer.annotate

    def annotate_then_per_tensor(model: torch.fx.GraphModule) -> torch.fx.GraphModule:
        model = annotate(model)
        for node in model.graph.nodes:
            annotation = node.meta.get("quantization_annotation")
            if node.target is not torch.ops.aten.linear.default or annotation is None:
                continue
            annotation.input_qspec_map[node.args[1]] = per_tensor.get_weight_qspec()
            if len(node.args) > 2 and node.args[2] is not None:
                annotation.input_qspec_map[node.args[2]] = per_tensor.get_bias_qspec(node)
        return model

    quantizer.annotate = annotate_then_per_tensor


def user_frame(text: str) -> str:
    """The last `File "...", line N` of a traceback or stack trace that is not inside torch/executorch/torchao:
    the line of the user's model an error or an op came from."""
    import os

    frames = re.findall(r'File "([^"]+)", line (\d+)', text or "")
    own = [(f, n) for f, n in frames if not re.search(r"site-packages|dist-packages|/torch/|/executorch/|/torchao/", f)]
    if not own:
        return ""
    path = own[-1][0]
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return f"{relative if not relative.startswith('..') else path}:{own[-1][1]}"


def export_graph(model: nn.Module, example_inputs: tuple, rewrite: bool = True) -> torch.fx.GraphModule:
    """torch.export at the example inputs' static shapes (batch 1, as the graph runs on the MCU) → GraphModule,
    as the PT2E quantizer wants it (no `_guards_fn`, see the ExecuTorch notes). A model torch.export cannot
    trace raises ExportError with export's own first line and the model's line it stopped at. With `rewrite`, the
    NPU-ready rewrites (common/rewrites.py) apply; what they changed is in the graph's `meta["rewrites"]`."""
    import contextlib
    import io
    import logging
    import traceback

    loggers = [logging.getLogger(n) for n in ("torch.export", "torch._export", "torch._dynamo",
                                               "torch.fx.experimental.symbolic_shapes")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:   # a failed trace is reported once, below, not as pages of torch's own warnings
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):   # torch prints the partial graph of a failed trace
            # a copy: ExecuTorch's Arm quantizer rewrites the graph's weights in place (FoldScalarMulIntoConvPass
            # scales a convolution's weights by a following constant multiplier), and the exported graph shares
            # its tensors with the module; the user's float model must come out as it went in
            program = torch.export.export(copy.deepcopy(model), tuple(example_inputs))
    except Exception as err:  # noqa: BLE001 — any tracing failure is the user's model, reported in one line
        first = next((line for line in str(err).strip().splitlines() if line.strip()), type(err).__name__)
        where = user_frame("".join(traceback.format_exception(err)))
        raise ExportError(f"torch.export cannot trace {type(model).__name__}"
                          + (f" (at {where})" if where else "")
                          + f": {first.strip()} — check the input shape, and make that "
                          f"line traceable (static shapes, no data-dependent Python control flow)") from None
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    graph_module = program.module(check_guards=False)
    applied = rewrites.apply(graph_module) if rewrite else {}
    if applied:   # exported again: every node of the rewritten graph with its shapes, as the quantizer reads them
        graph_module = torch.export.export(graph_module, tuple(example_inputs)).module(check_guards=False)
    graph_module.meta["rewrites"] = applied
    return graph_module


def samples_of(batches: Iterable) -> Iterator[tuple]:
    """Every sample of an iterable of batches, one at a time, as a tuple of batch-1 tensors: a batch is a tensor
    (N, ...) or a tuple of tensors for a model with several inputs."""
    for batch in batches:
        inputs = batch if isinstance(batch, (tuple, list)) else (batch,)
        for i in range(len(inputs[0])):
            yield tuple(x[i:i + 1] for x in inputs)


def quantize_ptq(model: nn.Module, example_inputs: tuple, calibration: Iterable,
                 *, target: str, scheme: str = "a8w8", observer: str = "histogram",
                 linear_weights: str = "per_channel", rewrite: bool = True) -> torch.fx.GraphModule:
    """Post-training quantization of the graph at the static batch-1 shape it is deployed with: observe
    activation ranges (`observer`: OBSERVERS) on every calibration sample (fed one at a time), then convert.
    `linear_weights`: LINEAR_WEIGHTS; `rewrite`: the NPU-ready rewrites (common/rewrites.py), what they changed in
    the result's `meta["rewrites"]`."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    graph = export_graph(model.eval(), example_inputs, rewrite=rewrite)
    applied = graph.meta["rewrites"]
    prepared = prepare_pt2e(graph, _quantizer(target, scheme, observer=observer, linear_weights=linear_weights))
    seen = 0
    with torch.no_grad():
        for sample in samples_of(calibration):
            prepared(*sample)
            seen += 1
    if seen == 0:
        raise TinyzooError("PTQ needs at least one calibration sample; the calibration list is empty")
    converted = convert_pt2e(prepared)
    converted.meta["rewrites"] = applied
    return converted


class QatModel(nn.Module):
    """A PT2E QAT graph as an nn.Module for the training loop. The graph is exported from the float model in eval
    mode with batch norm folded into the convolutions (statistics frozen at their trained values, the usual QAT
    fine-tuning practice; dropout off); the fake quantizers observe and round in every mode.

    It is exported at the static training batch size (stock layers such as nn.LayerNorm or a class token's
    expand only quantize at static shapes), so training must drop the last partial batch; `convert_qat` moves
    the trained weights and quantizer state into the same graph at batch 1, the shape that is deployed."""

    def __init__(self, prepared: torch.fx.GraphModule, fused: nn.Module, batch_size: int, target: str, scheme: str):
        super().__init__()
        self.graph_module = prepared
        self.batch_size, self.target, self.scheme = batch_size, target, scheme
        self._fused = [fused]   # not a submodule: its weights are not the ones trained

    def train(self, mode: bool = True):
        self.training = mode
        return self

    def forward(self, x):
        if x.shape[0] != self.batch_size:
            raise TinyzooError(f"the QAT graph is exported at batch {self.batch_size}, got {x.shape[0]}: train it "
                               f"with drop_last=True")
        return self.graph_module(x)


def prepare_qat(model: nn.Module, example_inputs: tuple, *, target: str, scheme: str = "a8w8",
                batch_size: int) -> QatModel:
    from torch.fx.experimental.optimization import fuse
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    # Fold batch norm into the convolutions first: the QAT conv-bn pattern that prepare_qat_pt2e inserts is not
    # folded back by convert_pt2e with torch 2.14 / torchao, and would leave BN ops on the CPU.
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    # a copy either way: the exported graph shares its parameters with the module it came from, and QAT must not
    # move the float model's weights (the card's float figures are of the trained float model)
    fused = fuse(model.eval(), inplace=False) if has_bn else copy.deepcopy(model).eval()
    batch = tuple(x[:1].expand(batch_size, *x.shape[1:]).clone() for x in example_inputs)
    prepared = prepare_qat_pt2e(export_graph(fused, batch), _quantizer(target, scheme, qat=True))
    for name, value in list(prepared._buffers.items()):
        if value is not None and value.grad_fn is not None:   # a constant folded from a parameter (a class
            prepared._buffers[name] = value.detach()           # token's expand): not trained, and no autograd graph
    saturate_rsqrt(prepared)
    return QatModel(prepared, fused, batch_size, target, scheme)


def saturate_rsqrt(prepared: torch.fx.GraphModule) -> int:
    """In a QAT graph, floor every fake-quantized input of rsqrt at half its quantization step.

    The Arm quantizer decomposes LayerNorm into int8 ops, among them var + eps → int8 → rsqrt. A token whose
    variance is below half a step of that int8 scale (a SpecAugment-masked frame, a near-constant row) becomes 0,
    and in fake-quant rsqrt(0) = inf turns the loss into NaN at the first batch. On the NPU the same value is a
    table lookup that saturates at the output's largest level; flooring at half a step gives that saturation in
    training too (rsqrt of the smallest non-zero level), with no op added to the deployed graph: `convert_qat`
    converts a freshly prepared graph. Returns how many rsqrt inputs were floored."""
    graph, floored = prepared.graph, 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target != torch.ops.aten.rsqrt.default:
            continue
        source = node.args[0]
        if source.op != "call_module" or not hasattr(prepared.get_submodule(source.target), "scale"):
            continue
        with graph.inserting_before(node):
            scale = graph.get_attr(f"{source.target}.scale")
            half_step = graph.call_function(torch.ops.aten.mul.Tensor, (scale, 0.5))
            floor = graph.call_function(torch.ops.aten.maximum.default, (source, half_step))
        node.replace_input_with(source, floor)
        floored += 1
    if floored:
        graph.lint()
        prepared.recompile()
    return floored


def convert_qat(qat_model: QatModel, example_inputs: tuple) -> torch.fx.GraphModule:
    """The trained QAT graph at the deployed batch-1 shape: the same graph prepared at batch 1, with the trained
    weights and fake-quantizer state copied in by name, then converted to the int8 fake-quant model."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

    static = prepare_qat_pt2e(export_graph(qat_model._fused[0], tuple(x[:1] for x in example_inputs)),
                              _quantizer(qat_model.target, qat_model.scheme, qat=True))
    trained, target = qat_model.graph_module.state_dict(), static.state_dict()
    parameters = {name for name, _ in static.named_parameters()}
    if set(trained) != set(target):
        trained = _renamed_observers(trained, observer_moves(qat_model.graph_module, static))
    if set(trained) != set(target):
        raise TinyzooError("the QAT graph at batch 1 differs from the one trained at batch "
                           f"{qat_model.batch_size}: {sorted(set(trained) ^ set(target))[:5]}")
    for name, value in trained.items():
        # a graph-level constant folded at the batch size (e.g. an expanded class token) is taken from the batch-1
        # graph; observers resize their own statistics when loaded
        if value.shape != target[name].shape and "." not in name:
            if name in parameters:
                raise TinyzooError(f"QAT parameter {name} has a batch-dependent shape {tuple(value.shape)}")
            trained[name] = target[name]
    static.load_state_dict(trained)
    return convert_pt2e(static)


# ops a graph may hold at one batch size and not at another with the same arithmetic: `nn.MultiheadAttention`'s
# `.contiguous()` is a clone at batch 100 and nothing at batch 1 (already contiguous). Only what was seen: any
# other difference stops the conversion with the ops named (observer_moves).
NO_OP_AT_BATCH_1 = {"aten.clone.default", "aten.contiguous.default"}


def _observers(graph_module: torch.fx.GraphModule) -> list[tuple[str, str]]:
    """(observer module, what it observes: the op or parameter) in graph order."""
    return [(n.target, str(n.args[0].target)) for n in graph_module.graph.nodes
            if n.op == "call_module" and n.target.startswith("activation_post_process_")]


def observer_moves(trained: torch.fx.GraphModule, static: torch.fx.GraphModule) -> dict[str, str | None]:
    """How the trained graph's observers map onto the batch-1 graph's: aligned by the ops they observe, in graph
    order. An observer the batch-1 graph lacks must sit on an op that is a no-op there (NO_OP_AT_BATCH_1; it shares
    its input's quantization) and maps to None; anything else is an error."""
    import difflib

    a, b = _observers(trained), _observers(static)
    matcher = difflib.SequenceMatcher(a=[op for _, op in a], b=[op for _, op in b], autojunk=False)
    moves: dict[str, str | None] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            moves.update({a[i][0]: b[j][0] for i, j in zip(range(i1, i2), range(j1, j2))})
        elif tag == "delete" and all(a[i][1] in NO_OP_AT_BATCH_1 for i in range(i1, i2)):
            moves.update({a[i][0]: None for i in range(i1, i2)})
        else:
            raise TinyzooError(f"the QAT graph at batch 1 differs from the one trained: observers of "
                               f"{[op for _, op in a[i1:i2]]} there, of {[op for _, op in b[j1:j2]]} at batch 1")
    return moves


def _renamed_observers(state: dict, moves: dict[str, str | None]) -> dict:
    out = {}
    for key, value in state.items():
        module, _, rest = key.partition(".")
        if module in moves:
            if moves[module] is None:
                continue
            key = f"{moves[module]}.{rest}"
        out[key] = value
    return out


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
