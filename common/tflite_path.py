"""The path a model takes without ExecuTorch — an int8 `.tflite` run by TFLite Micro, its NPU part compiled by
Vela — measured the way the chain measures its own `.pte`, so a card can put them side by side: accuracy with
LiteRT (the TFLite interpreter, ai-edge-litert) on the same test data, and Vela's cycles, SRAM and flash per target
with the system config and memory mode ExecuTorch's compile spec picks for it.

LiteRT is needed only where a model has such a reference (its config's `reference` section); it is imported here,
by the functions that run it.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from tinyzoo.common import targets
from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.report import (
    macs_per_cycle,
    parse_vela_per_layer,
    parse_vela_summary,
)


class LiteRT:
    """A `.tflite` model in LiteRT's interpreter, one sample at a time (the models take batch 1)."""

    def __init__(self, path: str | Path):
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise TinyzooError("running a .tflite needs LiteRT: pip install ai-edge-litert") from None
        self.path = Path(path)
        # TFLite's reference kernels, no XNNPACK delegate: the arithmetic TFLite Micro's kernels implement, and
        # every operator (the logits a final softmax reads among them) visible
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # LiteRT calls preserving intermediate tensors "for debugging"
            self.interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                                           experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @property
    def input_qparams(self) -> tuple[float, int] | None:
        scale, zero_point = self.input["quantization"]
        return (float(scale), int(zero_point)) if self.input["dtype"] != np.float32 else None

    @property
    def output_qparams(self) -> tuple[float, int] | None:
        scale, zero_point = self.output["quantization"]
        return (float(scale), int(zero_point)) if self.output["dtype"] != np.float32 else None

    def _softmax_input(self) -> int | None:
        """The tensor a final SOFTMAX reads (the logits), if the model ends in one."""
        ops = self.interpreter._get_ops_details()
        last = next((op for op in reversed(ops) if self.output["index"] in op["outputs"]), None)
        return int(last["inputs"][0]) if last is not None and last["op_name"] == "SOFTMAX" else None

    def run(self, x: np.ndarray, *, logits: bool = False) -> np.ndarray:
        """Each sample of `x` (N, ...) in the model's own input layout and range (float; quantized here with the
        model's input scale and zero point when its input is int8: round half away from zero, clamped, as TFLite's
        converter does). Returns the outputs (N, ...) as float (dequantized), or with `logits` the tensor the final
        softmax reads."""
        source = self._softmax_input() if logits else None
        read = next((d for d in self.interpreter.get_tensor_details() if d["index"] == source), self.output)
        outputs = []
        for sample in x:
            value = sample[None]
            if self.input_qparams is not None:
                scale, zero_point = self.input_qparams
                info = np.iinfo(self.input["dtype"])
                value = np.clip(np.round(value / scale) + zero_point, info.min, info.max).astype(self.input["dtype"])
            self.interpreter.set_tensor(self.input["index"], value.astype(self.input["dtype"], copy=False))
            self.interpreter.invoke()
            out = self.interpreter.get_tensor(read["index"])[0].copy()
            scale, zero_point = read["quantization"]
            outputs.append((out.astype(np.float32) - zero_point) * scale if out.dtype != np.float32 else out)
        return np.stack(outputs)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.run(x, logits=True)


def vela_compile(tflite: str | Path, target: str, out_dir: str | Path) -> dict:
    """Vela on a `.tflite` for `target`, with the system config and memory mode ExecuTorch's EthosUCompileSpec
    chooses for that target (and its `Arm/vela.ini`): the figures `common.report` reads from Vela's summary, plus
    the compiled model's size. Vela runs in a child process (its output and a crash stay there)."""
    chosen = targets.get(target)
    system_config, memory_mode = chosen.system_config, chosen.memory_mode
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="tinyzoo-vela-") as tmp:
        command = [sys.executable, "-c", "import sys; from ethosu.vela.vela import main; sys.exit(main(sys.argv[1:]))",
                   f"--accelerator-config={target}",
                   "--config=Arm/vela.ini", f"--system-config={system_config}", f"--memory-mode={memory_mode}",
                   "--verbose-performance", f"--output-dir={tmp}", str(tflite)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise TinyzooError(f"{target}: Vela failed on {Path(tflite).name} (exit {done.returncode}): "
                               f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(tmp, out_dir)
    summary = parse_vela_summary(out_dir)
    compiled = next(out_dir.glob("*_vela.tflite"))
    cycles = summary["cycles"]
    softmax = sum(layer["cycles"] for layer in parse_vela_per_layer(out_dir) if layer["operator"] == "Softmax")
    return {**summary, "flash_kib": round(summary["off_chip_flash_kib"] + summary["on_chip_flash_kib"], 2),
            "tflite_bytes": compiled.stat().st_size, "softmax_cycles": softmax,
            "mac_utilisation": round(summary["macs"] / (cycles * macs_per_cycle(target)), 4) if cycles else None}


def as_tflite_input(features, lite: LiteRT) -> np.ndarray:
    """The chain's float features (N, C, H, W) in the layout a .tflite takes them (N, H, W, C)."""
    x = np.asarray(features, dtype=np.float32)
    want = tuple(lite.input["shape"][1:])
    if x.ndim == 4 and tuple(x.shape[1:]) != want and tuple(x.transpose(0, 2, 3, 1).shape[1:]) == want:
        x = x.transpose(0, 2, 3, 1)
    if tuple(x.shape[1:]) != want:
        raise TinyzooError(f"{lite.path.name} takes inputs of shape {list(lite.input['shape'])}, the model's features "
                           f"are {list(x.shape)}: it is not a model of the same network")
    return x


def accuracy(tflite: str | Path, features, labels, float_predictions, *, names: list[str] | None = None,
             reference_names: list[str] | None = None) -> dict:
    """The .tflite's int8 top-1 accuracy on the same test features, and how often its top-1 equals float's.
    `reference_names` is the .tflite's output label order when it differs from the model's (`names`)."""
    import time

    lite = LiteRT(tflite)
    start = time.perf_counter()
    predictions = lite.run(as_tflite_input(features, lite)).argmax(1)
    seconds = time.perf_counter() - start
    if reference_names:
        missing = sorted(set(reference_names) - set(names or []))
        if missing or len(reference_names) != len(names or []):
            raise TinyzooError(f"the reference's labels {reference_names} are not a reordering of {names}")
        predictions = np.array([names.index(reference_names[p]) for p in predictions])
    labels, float_predictions = np.asarray(labels), np.asarray(float_predictions)
    return {"int8": float((predictions == labels).mean()),
            "agreement_int8_float": float((predictions == float_predictions).mean()),
            "input": ({"scale": lite.input_qparams[0], "zero_point": lite.input_qparams[1]}
                      if lite.input_qparams else None),
            "samples_per_second": len(labels) / max(seconds, 1e-9)}


def side_by_side(pte_report: dict, tflite_report: dict) -> dict:
    """One target's figures of both paths and their ratios (.pte ÷ .tflite: below 1 the ExecuTorch path is
    cheaper)."""
    ratio = lambda a, b: round(a / b, 4) if b else None
    return {**{k: tflite_report.get(k) for k in ("cycles", "npu_cycles", "inference_time_ms", "sram_kib",
                                                 "flash_kib", "dram_kib", "weights_bytes_encoded", "macs",
                                                 "mac_utilisation", "tflite_bytes", "softmax_cycles")},
            "cycle_ratio": ratio(pte_report["cycles"], tflite_report["cycles"]),
            "sram_ratio": ratio(pte_report["sram_kib"], tflite_report["sram_kib"]),
            "weights_ratio": ratio(pte_report["weights_bytes_encoded"], tflite_report["weights_bytes_encoded"])}
