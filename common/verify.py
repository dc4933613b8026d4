"""Does the model on the chip behave like the model we trained? Accuracy of the float model, the int8
fake-quant model and the integer TOSA graph Vela compiled (run by the TOSA reference model), on one test set,
plus top-1 agreement between int8 and float."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tinyzoo.common.errors import ArtifactError, TinyzooError
from tinyzoo.common.native_output import captured_native_output


def quantize(x: torch.Tensor | np.ndarray, q: dict) -> np.ndarray:
    """float → int8 exactly as quantized_decomposed.quantize_per_tensor does (round half to even, clamp), in the
    layout the program takes: a 4-D input whose parameters say `layout: NHWC` comes out channels-last."""
    x = torch.as_tensor(x, dtype=torch.float32)
    if q.get("layout") == "NHWC" and x.dim() == 4:
        x = x.permute(0, 2, 3, 1)
    inv_scale = 1.0 / q["scale"]
    out = torch.clamp(torch.round(x * inv_scale) + q["zero_point"], q["qmin"], q["qmax"])
    return out.to(torch.int8 if q.get("dtype", "int8") == "int8" else torch.int16).numpy()


def dequantize(x: np.ndarray, q: dict) -> np.ndarray:
    """int8 → float, back in PyTorch's layout: an output whose parameters say `layout: NHWC` comes back NCHW."""
    if q.get("layout") == "NHWC" and x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    return (x.astype(np.float32) - q["zero_point"]) * q["scale"]


def run_tosa(tosa: str | Path | bytes, inputs) -> tuple:
    """Run the integer TOSA graph on each sample with the TOSA reference model. `inputs` is an array (N, ...) for
    a graph with one input, or a list of arrays (N, ...), one per input.

    Returns the stacked outputs (N, ...) — a list of them for a graph with several outputs — and the samples
    per second."""
    import tosa_reference_model

    graph = Path(tosa).read_bytes() if not isinstance(tosa, bytes) else tosa
    several = isinstance(inputs, (list, tuple))
    arrays = list(inputs) if several else [inputs]
    outputs = []
    status = None
    start = time.perf_counter()
    with captured_native_output() as log:  # the reference model prints version warnings per call
        for i in range(len(arrays[0])):
            result, status = tosa_reference_model.run(graph, [np.ascontiguousarray(a[i:i + 1]) for a in arrays])
            if status != tosa_reference_model.GraphStatus.TOSA_VALID:
                break
            outputs.append([r[0] for r in result])
    if len(outputs) != len(arrays[0]):
        raise ArtifactError(f"the TOSA reference model rejected the graph or input "
                            f"(status {status}): {''.join(log)[-2000:]}")
    seconds = time.perf_counter() - start
    stacked = [np.stack(parts) for parts in zip(*outputs)]
    return (stacked if len(stacked) > 1 else stacked[0]), len(arrays[0]) / max(seconds, 1e-9)


def per_target(tosa_graphs: dict[str, Path], run) -> dict:
    """`run(graph bytes)` for each target's TOSA graph, run once per distinct graph (the targets of one family
    compile the same graph): {target: what run returned}."""
    by_graph: dict[bytes, object] = {}
    out = {}
    for target, path in tosa_graphs.items():
        graph = Path(path).read_bytes()
        if graph not in by_graph:
            by_graph[graph] = run(graph)
        out[target] = by_graph[graph]
    return out


@torch.no_grad()
def logits_of(model, features, batch_size: int = 512):
    """The model's outputs on every sample, in batches. An exported graph (the int8 fake-quant program) has the
    static batch-1 shape it is deployed with, so it runs one sample at a time. `features` is a tensor (N, ...)
    or a tuple of them for a model with several inputs; several outputs come back as a tuple."""
    if isinstance(model, torch.fx.GraphModule):
        batch_size = 1
    elif hasattr(model, "eval"):
        model.eval()
    inputs = features if isinstance(features, tuple) else (features,)
    parts = [model(*(x[i:i + batch_size] for x in inputs)) for i in range(0, len(inputs[0]), batch_size)]
    if isinstance(parts[0], (tuple, list)):
        return tuple(torch.cat(p) for p in zip(*parts))
    return torch.cat(parts)


def accuracy(predictions: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(labels) == 0:
        raise TinyzooError("cannot compute accuracy on an empty test set")
    return float((predictions == labels).mean())


def confusion_matrix(predictions, labels, num_classes: int) -> list[list[int]]:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix.tolist()


def tosa_predictions(tosa_path: Path | bytes, features: torch.Tensor, io: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """Quantize the features with the model's input scale, run the TOSA graph, dequantize the output.
    Returns (float outputs, predictions, samples per second)."""
    raw, rate = run_tosa(tosa_path, quantize(features, io["input"]))
    outputs = dequantize(raw, io["output"])
    return outputs, outputs.argmax(axis=1), rate


def compare(float_model, fake_quant, features: torch.Tensor, labels: torch.Tensor,
            tosa_graphs: dict[str, Path], io: dict, num_classes: int) -> dict:
    """The accuracy ladder on one test set: float → int8 fake-quant → int8 TOSA reference per target."""
    float_pred = logits_of(float_model, features).argmax(1).numpy()
    fq_logits = logits_of(fake_quant, features)
    fq_pred = fq_logits.argmax(1).numpy()
    result = {
        "samples": int(len(labels)),
        "float": accuracy(float_pred, labels),
        "fake_quant_int8": accuracy(fq_pred, labels),
        "tosa_int8": {}, "agreement_int8_float": {}, "agreement_tosa_fake_quant": {},
        "max_lsb_diff_tosa_fake_quant": {}, "tosa_samples_per_second": {},
    }
    tosa_pred = None
    for target, (outputs, tosa_pred, rate) in per_target(
            tosa_graphs, lambda graph: tosa_predictions(graph, features, io)).items():
        fq_int = quantize(fq_logits, io["output"]).astype(np.int32)
        tosa_int = quantize(torch.from_numpy(outputs), io["output"]).astype(np.int32)
        result["tosa_int8"][target] = accuracy(tosa_pred, labels)
        result["agreement_int8_float"][target] = accuracy(tosa_pred, float_pred)
        result["agreement_tosa_fake_quant"][target] = accuracy(tosa_pred, fq_pred)
        result["max_lsb_diff_tosa_fake_quant"][target] = int(np.abs(fq_int - tosa_int).max())
        result["tosa_samples_per_second"][target] = rate
    result["confusion"] = {
        "matrix": confusion_matrix(tosa_pred if tosa_pred is not None else fq_pred, labels, num_classes),
        "source": f"int8 TOSA reference ({next(iter(tosa_graphs))})" if tosa_graphs else "int8 fake-quant",
    }
    return result


def sqnr_db(reference: np.ndarray | torch.Tensor, test: np.ndarray | torch.Tensor) -> float | None:
    """Signal-to-quantization-noise ratio of `test` against `reference`, in dB: inf when they are equal, None
    when the reference is all zeros (no signal to compare against, e.g. a zero-initialised head)."""
    reference = np.asarray(reference, dtype=np.float64).ravel()
    noise = np.sum((reference - np.asarray(test, dtype=np.float64).ravel()) ** 2)
    signal = np.sum(reference ** 2)
    if signal == 0:
        return None
    return float("inf") if noise == 0 else float(10 * np.log10(signal / noise))


CONSTANT_OUTPUT = 1e-3   # variation across inputs, relative to the output's size, below which it is "constant"


def output_barely_varies(outputs: np.ndarray) -> bool:
    """Whether the float model's outputs (N, -1) hardly change from one input to the next (e.g. untrained or random
    weights): then an SQNR against them measures nothing about quantization, and the figures say so."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if len(outputs) < 2:
        return False
    size = np.sqrt(np.mean(outputs ** 2))
    return bool(size == 0 or np.mean(outputs.std(axis=0)) < CONSTANT_OUTPUT * size)


def _flat(outputs) -> np.ndarray:
    """All outputs of a model on N samples as one (N, -1) float array."""
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    return np.concatenate([np.asarray(o, dtype=np.float32).reshape(len(o), -1) for o in outputs], axis=1)


def _error(reference: np.ndarray, test: np.ndarray, logits: bool) -> dict:
    sqnr = sqnr_db(reference, test)
    out = {"sqnr_db": None if sqnr is None else round(sqnr, 2), "max_abs_error": float(np.abs(reference - test).max())}
    if logits:
        out["top1_agreement_float"] = float((reference.argmax(1) == test.argmax(1)).mean())
    return out


def fidelity(float_model, fake_quant, inputs: tuple[torch.Tensor, ...], tosa_graphs: dict[str, Path],
             io: dict) -> dict:
    """How close int8 comes to float on these inputs, with no labels: SQNR and max abs error of the int8
    fake-quant model and of each target's integer TOSA graph against the float model, the largest difference in
    output LSBs between the TOSA graph and fake-quant, and — when the model returns one row of class scores —
    how often int8's top-1 equals float's. `io` is common.quantize.all_io_quant_params of the fake-quant model."""
    float_out = logits_of(float_model, inputs)
    fq_out = logits_of(fake_quant, inputs)
    outs = float_out if isinstance(float_out, tuple) else (float_out,)
    logits = len(outs) == 1 and outs[0].dim() == 2 and outs[0].shape[1] > 1
    reference, fq = _flat(float_out), _flat(fq_out)
    fq_list = fq_out if isinstance(fq_out, tuple) else (fq_out,)
    result = {"samples": int(len(inputs[0])), "fake_quant_int8": _error(reference, fq, logits), "tosa_int8": {},
              "max_lsb_diff_tosa_fake_quant": {}, "tosa_samples_per_second": {}, "outputs_are_logits": logits,
              **({"float_output_constant": True} if output_barely_varies(reference) else {})}
    raw_inputs = [quantize(x, q) for x, q in zip(inputs, io["inputs"])]
    for target, (raw, rate) in per_target(
            tosa_graphs, lambda graph: run_tosa(graph, raw_inputs if len(raw_inputs) > 1 else raw_inputs[0])).items():
        raw = raw if isinstance(raw, list) else [raw]
        tosa = [dequantize(r, q) for r, q in zip(raw, io["outputs"])]
        result["tosa_int8"][target] = _error(reference, _flat(tosa), logits)
        result["max_lsb_diff_tosa_fake_quant"][target] = max(
            int(np.abs(quantize(f, q).astype(np.int32) - r.astype(np.int32)).max())
            for f, r, q in zip(fq_list, raw, io["outputs"]))
        result["tosa_samples_per_second"][target] = rate
    return result
