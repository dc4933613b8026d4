"""Does the model on the chip behave like the model we trained? Accuracy of the float model, the int8
fake-quant model and the integer TOSA graph Vela compiled (run by the TOSA reference model), on one test set,
plus top-1 agreement between int8 and float."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from common.errors import ArtifactError, TinyzooError
from common.native_output import captured_native_output


def quantize(x: torch.Tensor | np.ndarray, q: dict) -> np.ndarray:
    """float → int8 exactly as quantized_decomposed.quantize_per_tensor does (round half to even, clamp)."""
    x = torch.as_tensor(x, dtype=torch.float32)
    inv_scale = 1.0 / q["scale"]
    out = torch.clamp(torch.round(x * inv_scale) + q["zero_point"], q["qmin"], q["qmax"])
    return out.to(torch.int8 if q.get("dtype", "int8") == "int8" else torch.int16).numpy()


def dequantize(x: np.ndarray, q: dict) -> np.ndarray:
    return (x.astype(np.float32) - q["zero_point"]) * q["scale"]


def run_tosa(tosa: str | Path | bytes, inputs: np.ndarray) -> tuple[np.ndarray, float]:
    """Run the integer TOSA graph on each sample of `inputs` (N, ...) with the TOSA reference model.

    Returns the stacked outputs (N, ...) and the samples per second."""
    import tosa_reference_model

    graph = Path(tosa).read_bytes() if not isinstance(tosa, bytes) else tosa
    outputs = []
    start = time.perf_counter()
    with captured_native_output() as log:  # the reference model prints version warnings per call
        for sample in inputs:
            result, status = tosa_reference_model.run(graph, [np.ascontiguousarray(sample[None])])
            if status != tosa_reference_model.GraphStatus.TOSA_VALID:
                break
            outputs.append(result[0][0])
    if len(outputs) != len(inputs):
        raise ArtifactError(f"the TOSA reference model rejected the graph or input "
                            f"(status {status}): {''.join(log)[-2000:]}")
    seconds = time.perf_counter() - start
    return np.stack(outputs), len(inputs) / max(seconds, 1e-9)


@torch.no_grad()
def logits_of(model, features: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    if hasattr(model, "eval") and not isinstance(model, torch.fx.GraphModule):
        model.eval()
    return torch.cat([model(features[i:i + batch_size]) for i in range(0, len(features), batch_size)])


def accuracy(predictions: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(labels) == 0:
        raise TinyzooError("cannot compute accuracy on an empty test set")
    return float((predictions == labels).mean())


def confusion_matrix(predictions, labels, num_classes: int) -> list[list[int]]:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix.tolist()


def tosa_predictions(tosa_path: Path, features: torch.Tensor, io: dict) -> tuple[np.ndarray, np.ndarray, float]:
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
    by_graph: dict[bytes, tuple] = {}
    tosa_pred = None
    for target, path in tosa_graphs.items():
        key = Path(path).read_bytes()
        if key not in by_graph:  # targets of one family compile the same TOSA graph: run it once
            by_graph[key] = tosa_predictions(path, features, io)
        outputs, tosa_pred, rate = by_graph[key]
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
