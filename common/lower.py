"""Lower a quantized model for one Ethos-U target: a `.pte` for the device, plus the exact integer TOSA
graph Vela compiled (for host verification with the TOSA reference model) and Vela's reports."""
from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tinyzoo.common import arm_passes, child, targets
from tinyzoo.common.errors import CpuFallbackError, TinyzooError
from tinyzoo.common.native_output import captured_native_output
from tinyzoo.common.quantize import load_quantized_program, user_frame


@dataclass
class Lowered:
    target: str
    pte_path: Path
    tosa_path: Path            # the integer TOSA graph handed to Vela (NPU partition 0)
    vela_dir: Path             # Vela's summary and per-layer CSVs
    npu_ops: int
    cpu_ops: int
    cpu_op_names: list[str] = field(default_factory=list)
    partitions: int = 1
    seconds: float = 0.0
    system_config: str = ""
    memory_mode: str = ""
    cpu_op_details: list[dict] = field(default_factory=list)   # per CPU op: reason, module path, source line

    @property
    def whole(self) -> bool:
        """The NPU runs all of the model: one partition, nothing on the CPU, so the TOSA graph computes the
        model's output (with operators on the CPU no single integer graph does, and only Vela's figures hold)."""
        return self.partitions == 1 and self.cpu_ops == 0


def _op_name(node) -> str:
    return str(getattr(node.target, "__name__", node.target)).replace("aten_", "aten.")


def _delegation(graph_module) -> tuple[int, Counter, int]:
    npu, cpu, partitions = 0, Counter(), 0
    for node in graph_module.graph.nodes:
        if node.op == "get_attr" and node.name.startswith("lowered_module"):
            partitions += 1
            lowered = getattr(graph_module, node.target)
            npu += sum(n.op == "call_function" for n in lowered.original_module.graph.nodes)
        elif node.op == "call_function" and _op_name(node) not in ("getitem", "executorch_call_delegate"):
            cpu[_op_name(node)] += 1
    return npu, cpu, partitions


BOUNDARY_OPS = ("quantized_decomposed.quantize_per_tensor.default",
                "quantized_decomposed.dequantize_per_tensor.default")


@contextlib.contextmanager
def partitioner_reasons():
    """Collect why the Arm partitioner left each node on the CPU ({node name: reason}), from the same
    WhyNoPartitionReporter it prints its rejection table with."""
    from executorch.backends.arm.tosa import partitioner as tosa_partitioner

    reasons: dict[str, str] = {}
    base = tosa_partitioner.WhyNoPartitionReporter

    class Recording(base):
        def report_reject(self, node, reason):
            reasons.setdefault(node.name, " ".join(str(reason).split()))
            super().report_reject(node, reason)

    tosa_partitioner.WhyNoPartitionReporter = Recording
    try:
        yield reasons
    finally:
        tosa_partitioner.WhyNoPartitionReporter = base


def _module_path(node) -> str:
    """`layers.0.attn (torch.nn.modules.activation.MultiheadAttention)` from the exported graph's module stack."""
    stack = [(path, kind) for path, kind in (node.meta.get("nn_module_stack") or {}).values()
             if "torch.export" not in str(kind)]   # export's own wrapper around the model is not a layer
    if not stack:
        return ""
    path, kind = stack[-1]
    return f"{path or '<top>'} ({kind})"


def cpu_op_details(graph_module, reasons: dict[str, str]) -> list[dict]:
    """Every operator left on the CPU with the partitioner's reason, the module it came from and the model's
    source line (from the exported graph's nn_module_stack / stack_trace), so a user knows which layer to change."""
    details = []
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or _op_name(node) in ("getitem", "executorch_call_delegate"):
            continue
        op = _op_name(node)
        reason = reasons.get(node.name) or (
            "int8 quantize/dequantize at the edge of an operator left on the CPU" if op in BOUNDARY_OPS
            else "not claimed by the Ethos-U partitioner")
        details.append({"op": op, "node": node.name, "reason": reason, "module": _module_path(node),
                        "source": user_frame(node.meta.get("stack_trace", ""))})
    return details


def _forget_intermediate_path(edge) -> None:
    """The Arm compile spec records where intermediates were dumped (a temporary folder) and it would be
    serialised into the .pte: replace it by a constant so the same model gives the same bytes every time."""
    for module in edge.exported_program().graph_module.modules():
        specs = getattr(module, "_compile_specs", None) or []
        for i, spec in enumerate(specs):
            if spec.key == "debug_artifact_path":
                specs[i] = type(spec)(spec.key, b"tinyzoo-lowering")


LAYOUTS = ("NCHW", "NHWC")


def in_layout(example_inputs: tuple, layout: str) -> tuple:
    """The example inputs in the memory layout the program is to take: with NHWC every 4-D input channels-last
    (ExecuTorch then gives the delegate an NHWC input, and the NPU no NCHW→NHWC transpose to run)."""
    if layout not in LAYOUTS:
        raise TinyzooError(f"unknown input layout {layout!r}: one of {', '.join(LAYOUTS)}")
    if layout == "NCHW":
        return tuple(example_inputs)
    return tuple(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x for x in example_inputs)


def lower_ethos_u(quantized: torch.fx.GraphModule, example_inputs: tuple, target: str, out_dir: str | Path, *,
                  int8_io: bool = True, allow_cpu_fallback: bool = False, system_config: str | None = None,
                  memory_mode: str | None = None, input_layout: str = "NCHW",
                  stage: Callable[[str], None] = lambda name: None) -> Lowered:
    """Quantized GraphModule → `<out_dir>/model.pte`, `model.tosa`, `vela/` and `vela.log`.

    With `int8_io` the program takes the int8 input and returns the int8 output directly (no quantize /
    dequantize left on the CPU); the scales are in `common.quantize.io_quant_params`. Operators the NPU
    cannot run raise `CpuFallbackError` naming them, unless `allow_cpu_fallback`.
    `input_layout` NHWC makes every 4-D input channels-last (`in_layout`): the `.pte` and the TOSA graph take
    NHWC bytes, as a TFLite model does. The chain's own passes (common/arm_passes.py) run inside ExecuTorch's.
    Nothing is written to out_dir unless lowering succeeds. `stage(name)` is told each stage as it starts
    (export, partitioning and TOSA, Vela, serialization, writing); `lower_in_child` runs it in a child process.
    """
    import executorch.kernels.quantized  # noqa: F401  (out variants of a CPU fallback's (de)quantize ops)
    from executorch.backends.arm.ethosu import EthosUPartitioner
    from executorch.exir import (
        EdgeCompileConfig,
        ExecutorchBackendConfig,
        to_edge_transform_and_lower,
    )
    from executorch.exir.passes.quantize_io_pass import QuantizeInputs, QuantizeOutputs


    chosen = targets.get(target, system_config, memory_mode)
    system_config, memory_mode = chosen.system_config, chosen.memory_mode
    out_dir = Path(out_dir)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"tinyzoo-{target}-") as tmp:
        tmp = Path(tmp)
        spec = chosen.compile_spec(dump_to=tmp / "ir", verbose_performance=True)
        # The partitioner logs why a node stays on the CPU at INFO; keep Vela itself quiet (see notes).
        logging.getLogger("executorch.backends.arm.tosa.partitioner").setLevel(logging.WARNING)
        with captured_native_output() as log, partitioner_reasons() as reasons, arm_passes.registered(), \
                _vela_reported(stage):
            stage("export")
            program = torch.export.export(quantized, in_layout(example_inputs, input_layout))
            stage("partitioning and TOSA")
            edge = to_edge_transform_and_lower(program, partitioner=[EthosUPartitioner(spec)],
                                               compile_config=EdgeCompileConfig(_check_ir_validity=False))
            stage("serialization")
            if int8_io:   # every input and output int8
                outputs = len(edge.exported_program().graph_signature.user_outputs)
                edge = edge.transform([QuantizeInputs(edge, list(range(len(example_inputs)))),
                                       QuantizeOutputs(edge, list(range(outputs)))])
            npu, cpu, partitions = _delegation(edge.exported_program().graph_module)
            details = cpu_op_details(edge.exported_program().graph_module, reasons)
            _forget_intermediate_path(edge)
            executorch_program = edge.to_executorch(ExecutorchBackendConfig(extract_delegate_segments=False))
        vela_log = "".join(log)
        cpu_names = [f"{name} x{count}" if count > 1 else name for name, count in sorted(cpu.items())]
        if cpu and not allow_cpu_fallback:
            first = next((d for d in details if d["op"] not in BOUNDARY_OPS), details[0])
            where = ", ".join(x for x in (first["module"], first["source"]) if x)
            raise CpuFallbackError(
                f"{target}: {sum(cpu.values())} operator(s) would run on the CPU instead of the NPU: "
                f"{', '.join(cpu_names)}; first: {first['op']}" + (f" from {where}" if where else "")
                + f" ({first['reason']}). Change that layer so the NPU supports it, or allow the CPU fallback "
                f"(--allow-cpu-fallback for a recipe; deploy allows it unless --npu-only).")
        if partitions == 0:
            raise CpuFallbackError(f"{target}: nothing was delegated to the NPU")
        tosa_files = sorted((tmp / "ir").glob("output_tag*_*.tosa"))
        if not tosa_files:
            raise TinyzooError(f"{target}: the Arm backend wrote no TOSA graph under {tmp / 'ir'}")
        stage("writing")
        staged = tmp / "stage"
        staged.mkdir()
        (staged / "model.pte").write_bytes(executorch_program.buffer)
        shutil.copyfile(tosa_files[0], staged / "model.tosa")
        shutil.copytree(tmp / "ir" / "output", staged / "vela",
                        ignore=shutil.ignore_patterns("*.npz"))
        (staged / "vela.log").write_text(vela_log)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), str(out_dir))
    if partitions > 1:
        logging.getLogger(__name__).warning(
            "%s: %d NPU partitions; Vela's report and model.tosa describe the last/first partition only",
            target, partitions)
    return Lowered(target=target, pte_path=out_dir / "model.pte", tosa_path=out_dir / "model.tosa",
                   vela_dir=out_dir / "vela", npu_ops=npu, cpu_ops=sum(cpu.values()), cpu_op_names=cpu_names,
                   partitions=partitions, seconds=time.perf_counter() - start,
                   system_config=system_config, memory_mode=memory_mode, cpu_op_details=details)


@contextlib.contextmanager
def _vela_reported(stage: Callable[[str], None]):
    """While lowering: `stage("Vela")` when ExecuTorch's Ethos-U backend hands a TOSA graph to Vela, and back to
    "partitioning and TOSA" when Vela returns."""
    from executorch.backends.arm.ethosu import backend

    compile_with_vela = backend.vela_compile

    def reported(*args, **kwargs):
        stage("Vela")
        compiled = compile_with_vela(*args, **kwargs)
        stage("partitioning and TOSA")
        return compiled

    backend.vela_compile = reported
    try:
        yield
    finally:
        backend.vela_compile = compile_with_vela


def lower_saved(program_path: Path, example_inputs: tuple, target: str, out_dir: Path, *,
                stage: Callable[[str], None] = lambda name: None, **options) -> Lowered:
    """`lower_ethos_u` of a saved int8 fake-quant program (`model_int8.pt2`): what a child process lowers."""
    stage("loading the int8 program")
    quantized = load_quantized_program(program_path).module()
    example_inputs = tuple(torch.from_numpy(x) if isinstance(x, np.ndarray) else x for x in example_inputs)
    return lower_ethos_u(quantized, example_inputs, target, out_dir, stage=stage, **options)


def lower_in_child(program_path: Path, example_inputs: tuple, target: str, out_dir: Path, *, log=print,
                   **options) -> Lowered:
    """`lower_saved` in a child process (common/child.py): a crash or an exception inside ExecuTorch, TOSA or Vela
    is a DependencyError naming the target and the stage, and the caller goes on with its other targets. The
    saved program lowers to the same bytes as the one in memory (tests/test_published.py)."""
    arrays = tuple(x.detach().contiguous().numpy() for x in example_inputs)   # plain bytes to the child
    return child.run(lower_saved, program_path, arrays, target, out_dir, what=f"lowering for {target}", log=log,
                     **options)
