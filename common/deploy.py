"""A user's own PyTorch model onto Ethos-U, unchanged: the chain every recipe runs, without training.

    export at the static input shapes → PTQ on the user's calibration inputs (or seeded random ones) → lower per
    target → fidelity of int8 against float (fake-quant and the TOSA reference int8 graph) → Vela report →
    memory fit per board → metrics.json and a card, in the same schema as a recipe build.

`tinyzoo deploy MODEL --input-shape 1,3,96,96 --target ethos-u55-128` is the command; `tinyzoo.deploy` the function.
"""
from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from tinyzoo.common import chain, pipeline
from tinyzoo.common.errors import ConfigError
from tinyzoo.common.lower import BOUNDARY_OPS
from tinyzoo.common.targets import check as check_target
from tinyzoo.common.tasks import USER_MODEL
from tinyzoo.common.verify import fidelity
from torch import nn

RANDOM_CALIBRATION_SAMPLES = 16


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,3,96,96' → (1, 3, 96, 96); the deployed graph runs one sample, so the first dimension is 1."""
    try:
        shape = tuple(int(d) for d in re.split(r"[,x]", text.strip()))
    except ValueError:
        raise ConfigError(f"--input-shape {text!r} is not a list of integers such as 1,3,96,96") from None
    if not shape or any(d <= 0 for d in shape):
        raise ConfigError(f"--input-shape {text!r}: every dimension must be a positive integer")
    if shape[0] != 1:
        raise ConfigError(f"--input-shape {text!r}: the first (batch) dimension must be 1 — the graph is exported "
                          f"and runs on the MCU at batch 1")
    return shape


def load_model(spec: str) -> tuple[nn.Module, str]:
    """A model from `path/to/file.py:factory` (a function returning the model) or `torchvision:<name>`
    (random weights unless the default weights are already in the torch hub cache). Returns the model and a
    sentence on where its weights came from."""
    if spec.startswith("torchvision:"):
        return _torchvision_model(spec.split(":", 1)[1])
    path, sep, factory = spec.rpartition(":")
    if not sep or not path.endswith(".py"):
        raise ConfigError(f"model {spec!r}: give path/to/file.py:factory (a function returning the nn.Module) or "
                          f"torchvision:<name>")
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"model file {file} does not exist")
    module_name = f"tinyzoo_user_model_{abs(hash(str(file.resolve())))}"
    loader = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    try:
        loader.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 — the user's file: say which and why, in one line
        raise ConfigError(f"importing {file} failed: {type(err).__name__}: {err}") from None
    if not callable(getattr(module, factory, None)):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise ConfigError(f"{file} has no function {factory!r}; it has: {', '.join(names) or 'none'}")
    try:
        model = getattr(module, factory)()
    except Exception as err:  # noqa: BLE001 — the user's factory: name it and its error, in one line
        first = next((line for line in str(err).strip().splitlines() if line.strip()), "")
        raise ConfigError(f"{file}:{factory}() raised {type(err).__name__}" + (f": {first}" if first else "")
                          + " — fix the factory, then deploy again") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{file}:{factory}() returned {type(model).__name__}, not a torch.nn.Module")
    return model, f"as returned by {file.name}:{factory}()"


def _torchvision_model(name: str) -> tuple[nn.Module, str]:
    import torchvision

    if name not in torchvision.models.list_models():
        raise ConfigError(f"torchvision has no model {name!r}; see torchvision.models.list_models()")
    weights = torchvision.models.get_model_weights(name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if cached.is_file():
        return torchvision.models.get_model(name, weights=weights), f"torchvision {weights} (from the local cache)"
    return torchvision.models.get_model(name, weights=None), "random (torchvision weights=None: none cached here)"


def default_name(spec: str) -> str:
    """The name a deployed model gets in its card: `torchvision/<name>`, or `user/<file stem>`."""
    if spec.startswith("torchvision:"):
        return "torchvision/" + spec.split(":", 1)[1]
    return "user/" + Path(spec.rpartition(":")[0]).stem


def load_inputs(path: str | Path, shapes: Sequence[tuple[int, ...]]) -> list[torch.Tensor]:
    """Inputs from a `.npy`/`.pt` file or a folder of them, one tensor (N, ...) per model input. A file holds
    one sample (the input shape, with or without its batch 1) or a stack of them (N, ...); a `.pt` file of a
    model with several inputs holds a tuple/list of such tensors."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix in (".npy", ".pt")) if path.is_dir() else [path]
    if not path.exists():
        raise ConfigError(f"input file or folder {path} does not exist")
    if not files:
        raise ConfigError(f"{path} holds no .npy or .pt files")
    per_input: list[list[torch.Tensor]] = [[] for _ in shapes]
    for file in files:
        if file.suffix not in (".npy", ".pt"):
            raise ConfigError(f"{file}: inputs are .npy or .pt files")
        try:
            data = (torch.from_numpy(np.load(file)) if file.suffix == ".npy"
                    else torch.load(file, map_location="cpu", weights_only=True))
        except Exception as err:  # noqa: BLE001 — a damaged or foreign file, named in one line
            raise ConfigError(f"cannot read {file}: {type(err).__name__}: {err}") from None
        tensors = list(data) if isinstance(data, (tuple, list)) else [data]
        if len(tensors) != len(shapes):
            raise ConfigError(f"{file} holds {len(tensors)} tensor(s), the model has {len(shapes)} input(s)")
        for i, (tensor, shape) in enumerate(zip(tensors, shapes)):
            tensor = torch.as_tensor(tensor, dtype=torch.float32)
            if tuple(tensor.shape) == shape[1:]:
                tensor = tensor[None]
            if tuple(tensor.shape[1:]) != shape[1:]:
                raise ConfigError(f"{file}: input {i} has shape {tuple(tensor.shape)}; expected {shape} or "
                                  f"(N, {', '.join(map(str, shape[1:]))})")
            if not torch.isfinite(tensor).all():
                bad = int((~torch.isfinite(tensor)).sum())
                raise ConfigError(f"{file}: input {i} holds {bad} NaN or infinite value(s): calibration and "
                                  f"evaluation inputs must be finite numbers")
            per_input[i].append(tensor)
    return [torch.cat(parts) for parts in per_input]


def random_inputs(shapes: Sequence[tuple[int, ...]], count: int = RANDOM_CALIBRATION_SAMPLES,
                  seed: int = 0) -> list[torch.Tensor]:
    """Seeded standard-normal inputs: (count, ...) per model input."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn((count, *shape[1:]), generator=generator) for shape in shapes]


def deploy_model(model: nn.Module, example_inputs: Sequence[torch.Tensor], *, targets: Sequence[str],
                 out_dir: str | Path, calibration: Iterable | None = None,
                 eval_inputs: Sequence[torch.Tensor] | None = None,
                 scheme: str = "a8w8", npu_only: bool = False, input_layout: str = "NCHW", name: str = "user/model",
                 weights: str = "", rewrite: bool = True, strict: bool = False,
                 random_samples: int = RANDOM_CALIBRATION_SAMPLES, reproduce: str = "", log=print) -> dict:
    """Deploy `model` to each Ethos-U target and measure it; writes `<out_dir>/<target>/model.pte` (+ TOSA graph,
    Vela's reports), `<out_dir>/metrics.json` and a card, and returns the metrics.

    `example_inputs`: one batch-1 tensor per model input (the deployed static shapes). `calibration`: batches (a
    tensor (N, ...) or a tuple of them per batch); None → seeded random-normal inputs, and the figures then
    describe the architecture, not accuracy (`random_samples` of them). `eval_inputs`: one tensor (N, ...)
    per input for the fidelity figures (default: the calibration inputs). `npu_only` makes any operator left on the
    CPU an error.
    `input_layout` NHWC gives the program its 4-D inputs channels-last (HWC bytes, as a camera gives an image; no
    NCHW→NHWC transposes on the NPU; common.lower.in_layout). `rewrite`: the NPU-ready rewrites of stock layers
    (common/rewrites.py: nn.RMSNorm, nn.AdaptiveAvgPool1d(1), a linear's batch norm), reported in the metrics.
    A target whose integer graph diverges from the int8 fake-quant model (common.chain.diverging) is reported
    loudly, in the metrics and the card; `strict` makes it a DivergenceError."""

    example = tuple(torch.as_tensor(x, dtype=torch.float32) for x in example_inputs)
    if any(x.shape[0] != 1 for x in example):
        raise ConfigError("every example input must have batch 1: the graph is exported and runs at batch 1")
    targets = [check_target(t) for t in targets]
    if not targets:
        raise ConfigError("name at least one Ethos-U target, e.g. --target ethos-u55-128")
    shapes = [tuple(x.shape) for x in example]
    random_calibration = calibration is None
    if random_calibration:
        calibration = [tuple(random_inputs(shapes, random_samples))]
    calibration = [tuple(b) if isinstance(b, (tuple, list)) else (b,) for b in calibration]
    for batch in calibration:
        for x, shape in zip(batch, shapes):
            if tuple(x.shape[1:]) != shape[1:]:
                raise ConfigError(f"a calibration batch has shape {tuple(x.shape)}; the model input is {shape}")
    eval_source = ("the given evaluation inputs (--eval)" if eval_inputs is not None else
                   "the seeded random calibration inputs" if random_calibration else "the calibration inputs")
    if eval_inputs is None:
        eval_inputs = [torch.cat([b[i] for b in calibration]) for i in range(len(shapes))]
    eval_inputs = tuple(torch.as_tensor(x, dtype=torch.float32) for x in eval_inputs)

    model = model.eval()
    with torch.no_grad():
        produced = model(*example)
    parts = produced if isinstance(produced, (tuple, list)) else (produced,)
    if not all(isinstance(p, torch.Tensor) for p in parts):
        kinds = ", ".join(sorted({type(p).__name__ for p in parts if not isinstance(p, torch.Tensor)}))
        raise ConfigError(f"{name}: the model returns "
                          f"{type(produced).__name__ if not isinstance(produced, (tuple, list)) else kinds}"
                          f"; a deployed program returns tensors: make forward return a tensor or a tuple of "
                          f"tensors (e.g. tuple(out.values()) for a dict, in a fixed order)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = {"quantize": {"scheme": scheme, "qat": {"enabled": False}, "rewrite": rewrite},
           "export": {"targets": targets, "int8_io": True, "allow_cpu_fallback": not npu_only, "strict": strict,
                      "input_layout": input_layout}}

    def evaluate(float_model, fake_quant, tosa_graphs, io):
        return fidelity(float_model, fake_quant, eval_inputs, tosa_graphs, chain.every_io(io))

    start = time.perf_counter()
    deployed = chain.deploy(model, cfg, example_inputs=example, calibration=calibration, build_dir=out_dir,
                            evaluate=evaluate, reference_inputs=tuple(x[:1] for x in eval_inputs), log=log)
    deployed["reference"]["sample"] = "first fidelity input"
    n_cal = sum(len(b[0]) for b in calibration)
    io = chain.every_io(deployed["quantization"]["io"])
    with torch.no_grad():
        outputs = model(*example)
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    first = next(iter(deployed["targets"].values()))
    metrics = {
        "model": name,
        "title": f"{name} on Arm Ethos-U (tinyzoo deploy)",
        "task": USER_MODEL.name,
        "summary": (f"A user's PyTorch model ({type(model).__name__}) deployed unchanged with `tinyzoo deploy`: "
                    f"exported at its static input shape, int8 PTQ with ExecuTorch's Arm quantizer ({scheme}), "
                    f"lowered for {', '.join(targets)}."),
        "weights": weights or "as given",
        "calibration": {"samples": int(n_cal), "source": "seeded random-normal inputs" if random_calibration
                        else "the user's calibration inputs"},
        "fidelity_inputs": {"samples": int(len(eval_inputs[0])), "source": eval_source},
        "model_info": {
            "params": int(sum(p.numel() for p in model.parameters())),
            "macs": first.get("macs"),
            "input": {"shape": list(shapes[0]), **_io_entry(io["inputs"][0])},
            "output": {"shape": list(outputs[0].shape), **_io_entry(io["outputs"][0])},
            **({"inputs": [{"shape": list(s), **_io_entry(q)} for s, q in zip(shapes, io["inputs"])],
                "outputs": [{"shape": list(o.shape), **_io_entry(q)} for o, q in zip(outputs, io["outputs"])]}
               if len(shapes) > 1 or len(outputs) > 1 else {}),
        },
        **deployed,
        "limitations": _limitations(random_calibration, weights, deployed),
        "reproduce": reproduce or "tinyzoo deploy <model> "
                     + " ".join(f"--input-shape {','.join(map(str, s))}" for s in shapes)
                     + " " + " ".join(f"--target {t}" for t in targets),
    }
    metrics["timings"]["deploy_seconds"] = round(time.perf_counter() - start, 1)
    pipeline.finish(metrics, {"deploy": {"model": name, "input_shapes": [list(s) for s in shapes], **cfg}},
                    out_dir, log=log)
    return metrics


def _io_entry(q: dict) -> dict:
    return {"dtype": q["dtype"], "scale": q["scale"], "zero_point": q["zero_point"]}


def _limitations(random_calibration: bool, weights: str, deployed: dict) -> list[str]:
    notes = []
    if random_calibration:
        notes.append("Calibrated and measured on seeded random-normal inputs: the figures describe the architecture "
                     "on the NPU (operators, cycles, memory, int8 arithmetic on such inputs), not accuracy on real "
                     "data. Pass --calibration with real inputs for int8 ranges and fidelity that mean something.")
    if weights.startswith("random"):
        notes.append("Random weights (no pretrained weights were available offline): accuracy is not claimed.")
    if any(r["partitions"] > 1 for r in deployed["targets"].values()):
        notes.append("Where a target has several NPU partitions, Vela's cycles and memory describe the last one "
                     "only; the operators between them run on the Cortex-M and are not timed.")
    notes.append("No accuracy on a labelled test set is measured here: fidelity compares int8 with float on the "
                 "same inputs.")
    return notes


def _db(value) -> str:
    return "– (the float output is all zeros)" if value is None else f"{value:.1f} dB"


def summary_lines(metrics: dict) -> list[str]:
    """What `tinyzoo deploy` prints: per target its operators, figures, fidelity, every CPU operator with its
    reason and source line, and the memory fit per board."""
    fid, lines = metrics["fidelity"], []
    fq = fid["fake_quant_int8"]
    lines.append(f"{metrics['model']}: {metrics['model_info']['params']:,} parameters, input "
                 f"{metrics['model_info']['input']['shape']}; calibration: {metrics['calibration']['samples']} "
                 f"{metrics['calibration']['source']}; weights: {metrics['weights']}")
    lines.append(f"  int8 fake-quant vs float: SQNR {_db(fq['sqnr_db'])}, max abs error {fq['max_abs_error']:.4g}"
                 + (f", top-1 agreement {fq['top1_agreement_float']:.1%}" if "top1_agreement_float" in fq else ""))
    if fid.get("float_output_constant"):
        lines.append("  (not meaningful: the float model's output barely changes across these inputs — untrained or "
                     "random weights? deploy the trained model with real --calibration/--eval inputs)")
    if metrics["quantization"].get("rewrites"):
        lines.append("  rewritten for the NPU before quantization: "
                     + ", ".join(f"{name} ×{n}" for name, n in metrics["quantization"]["rewrites"].items()))
    for target, why in (metrics.get("divergence") or {}).items():
        lines.append(f"  WARNING {target}: the NPU's integer graph diverges from the int8 model: {why}")
    for target, r in metrics["targets"].items():
        share = f"{100 * r['npu_op_fraction']:.1f} %"
        lines.append(f"{target}: {r['npu_ops']} ops on the NPU, {r['cpu_ops']} on the CPU ({share} NPU), "
                     f"{r['cycles']:,} cycles = {r['inference_time_ms']:.3f} ms, SRAM {r['sram_kib']:.1f} KiB, "
                     f"flash {r['flash_kib']:.1f} KiB, .pte {r['pte_bytes'] / 1024:.1f} KiB"
                     + (f" (Vela: last of {r['partitions']} NPU partitions)" if r["partitions"] > 1 else ""))
        t = fid["tosa_int8"].get(target)
        if t is None:
            lines.append("  int8 TOSA reference: not run — with operators on the CPU no single integer graph "
                         "computes the model's output")
        else:
            lines.append(f"  int8 TOSA reference vs float: SQNR {_db(t['sqnr_db'])}, max abs error "
                         f"{t['max_abs_error']:.4g}, max {fid['max_lsb_diff_tosa_fake_quant'][target]} LSB vs "
                         f"fake-quant" + (f", top-1 agreement {t['top1_agreement_float']:.1%}"
                                          if "top1_agreement_float" in t else ""))
        details = r.get("cpu_op_details", [])
        for op in (d for d in details if d["op"] not in BOUNDARY_OPS):
            where = ", ".join(x for x in (op["module"], op["source"]) if x)
            lines.append(f"  on the CPU: {op['op']}" + (f" from {where}" if where else "") + f" — {op['reason']}")
        edges = sum(d["op"] in BOUNDARY_OPS for d in details)
        if edges:
            lines.append(f"  on the CPU: {edges} int8 quantize/dequantize op(s) at the edges of those operators")
        for fit in metrics.get("memory_fit", []):
            if fit["target"] == target:
                lines.append(f"  memory fit on {fit['board']}: {fit['summary']}")
    return lines
