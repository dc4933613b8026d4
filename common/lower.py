"""Lower a quantized model for one Ethos-U target: a `.pte` for the device, plus the exact integer TOSA
graph Vela compiled (for host verification with the TOSA reference model) and Vela's reports."""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from common.errors import CpuFallbackError, TinyzooError, UnknownTargetError
from common.native_output import captured_native_output

TARGETS = (
    "ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256",
    "ethos-u65-256", "ethos-u65-512",
    "ethos-u85-128", "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024", "ethos-u85-2048",
)


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise UnknownTargetError(f"unknown target {target!r}; Ethos-U targets are: {', '.join(TARGETS)}")
    return target


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

    def delegation(self) -> dict:
        return {"npu_ops": self.npu_ops, "cpu_ops": self.cpu_ops, "cpu_op_names": self.cpu_op_names,
                "partitions": self.partitions}


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


def lower_ethos_u(quantized: torch.fx.GraphModule, example_inputs: tuple, target: str, out_dir: str | Path, *,
                  int8_io: bool = True, allow_cpu_fallback: bool = False, system_config: str | None = None,
                  memory_mode: str | None = None) -> Lowered:
    """Quantized GraphModule → `<out_dir>/model.pte`, `model.tosa`, `vela/` and `vela.log`.

    With `int8_io` the program takes the int8 input and returns the int8 output directly (no quantize /
    dequantize left on the CPU); the scales are in `common.quantize.io_quant_params`. Operators the NPU
    cannot run raise `CpuFallbackError` naming them, unless `allow_cpu_fallback`.
    Nothing is written to out_dir unless lowering succeeds.
    """
    from executorch.backends.arm.ethosu import EthosUCompileSpec, EthosUPartitioner
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes.quantize_io_pass import QuantizeInputs, QuantizeOutputs

    check_target(target)
    system_config, memory_mode = EthosUCompileSpec._default_system_config_and_memory_mode(
        target, system_config, memory_mode)
    out_dir = Path(out_dir)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"tinyzoo-{target}-") as tmp:
        tmp = Path(tmp)
        spec = EthosUCompileSpec(target, system_config=system_config, memory_mode=memory_mode,
                                 extra_flags=["--verbose-performance"]).dump_intermediate_artifacts_to(str(tmp / "ir"))
        # The partitioner logs why a node stays on the CPU at INFO; keep Vela itself quiet (see notes).
        logging.getLogger("executorch.backends.arm.tosa.partitioner").setLevel(logging.WARNING)
        with captured_native_output() as log:
            program = torch.export.export(quantized, example_inputs)
            edge = to_edge_transform_and_lower(program, partitioner=[EthosUPartitioner(spec)],
                                               compile_config=EdgeCompileConfig(_check_ir_validity=False))
            if int8_io:   # every input and output int8
                outputs = len(edge.exported_program().graph_signature.user_outputs)
                edge = edge.transform([QuantizeInputs(edge, list(range(len(example_inputs)))),
                                       QuantizeOutputs(edge, list(range(outputs)))])
            npu, cpu, partitions = _delegation(edge.exported_program().graph_module)
            executorch_program = edge.to_executorch(ExecutorchBackendConfig(extract_delegate_segments=False))
        vela_log = "".join(log)
        cpu_names = [f"{name} x{count}" if count > 1 else name for name, count in sorted(cpu.items())]
        if cpu and not allow_cpu_fallback:
            raise CpuFallbackError(
                f"{target}: {sum(cpu.values())} operator(s) would run on the CPU instead of the NPU: "
                f"{', '.join(cpu_names)}. Change the model so the NPU supports them (see the Ethos-U operator "
                f"support of executorch.backends.arm), or pass --allow-cpu-fallback to accept it.")
        if partitions == 0:
            raise CpuFallbackError(f"{target}: nothing was delegated to the NPU")
        tosa_files = sorted((tmp / "ir").glob("output_tag*_*.tosa"))
        if not tosa_files:
            raise TinyzooError(f"{target}: the Arm backend wrote no TOSA graph under {tmp / 'ir'}")
        stage = tmp / "stage"
        stage.mkdir()
        (stage / "model.pte").write_bytes(executorch_program.buffer)
        shutil.copyfile(tosa_files[0], stage / "model.tosa")
        shutil.copytree(tmp / "ir" / "output", stage / "vela",
                        ignore=shutil.ignore_patterns("*.npz"))
        (stage / "vela.log").write_text(vela_log)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(stage), str(out_dir))
    if partitions > 1:
        logging.getLogger(__name__).warning(
            "%s: %d NPU partitions; Vela's report and model.tosa describe the last/first partition only",
            target, partitions)
    return Lowered(target=target, pte_path=out_dir / "model.pte", tosa_path=out_dir / "model.tosa",
                   vela_dir=out_dir / "vela", npu_ops=npu, cpu_ops=sum(cpu.values()), cpu_op_names=cpu_names,
                   partitions=partitions, seconds=time.perf_counter() - start,
                   system_config=system_config, memory_mode=memory_mode)
