"""A non-delegated `.pte` of a published model, for the host build of the firmware apps.

The device runs the Ethos-U `.pte`, whose graph is one `EthosUBackend` call that only the NPU can execute. The
host app runs this one instead: the same int8 program (`model_int8.pt2`: quantize/dequantize ops around each
operator, int8 weights), lowered with no partitioner to ExecuTorch's portable/optimized CPU kernels plus the
quantized kernels library, with int8 input and output exactly like the Ethos-U `.pte` (QuantizeInputs /
QuantizeOutputs, as common/lower.py does). So the host app is fed the same int8 tensor the device is fed,
and prints the int8 output a Python run of the same program prints.

    python -m tinyzoo.common.firmware.portable zoo/artifacts/kws/ds_cnn build/kws_ds_cnn_portable.pte
    python -m tinyzoo.common.firmware.portable zoo/artifacts/text/tiny_lm build/tiny_lm_step.pte --program decode_step

A float model (an `nn.Module`) is accepted too: then the `.pte` takes and returns float32.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tinyzoo.common.config import load_config
from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.lower import in_layout
from tinyzoo.common.quantize import load_quantized_program


def _register_quantized_ops() -> None:
    # The out-variants of quantized_decomposed.* live in ExecuTorch's quantized kernels library; importing it
    # registers them so that to_executorch() can lower quantize/dequantize nodes.
    import executorch.kernels.quantized  # noqa: F401


def export_portable(program_or_model, example_inputs: tuple, path: str | Path) -> Path:
    """Lower `program_or_model` without any delegate and write the `.pte` to `path`.

    program_or_model: an int8 `torch.export.ExportedProgram` (common.quantize.load_quantized_program) or a
    converted PT2E GraphModule: the `.pte` then takes the int8 input and returns the int8 output. An
    `nn.Module` (float model): float32 in and out. example_inputs: float tensors of the model's input shape.
    """
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge
    from executorch.exir.passes.quantize_io_pass import QuantizeInputs, QuantizeOutputs

    module = program_or_model.module() if isinstance(program_or_model, torch.export.ExportedProgram) \
        else program_or_model
    if not isinstance(module, torch.nn.Module):
        raise TinyzooError(f"export_portable needs an ExportedProgram, GraphModule or nn.Module, "
                           f"not {type(program_or_model).__name__}")
    quantized = any("quantize_per_tensor" in str(node.target) for node in module.graph.nodes) \
        if isinstance(module, torch.fx.GraphModule) else False
    if quantized:
        _register_quantized_ops()
    exported = torch.export.export(module, tuple(example_inputs))
    edge = to_edge(exported, compile_config=EdgeCompileConfig(_check_ir_validity=False))
    if quantized:
        # Only when the graph starts with quantize and ends with dequantize: then the int8 I/O is exact.
        inputs, outputs = len(example_inputs), len(exported.graph_signature.user_outputs)
        edge = edge.transform([QuantizeInputs(edge, list(range(inputs))), QuantizeOutputs(edge, list(range(outputs)))])
    program = edge.to_executorch(ExecutorchBackendConfig())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(program.buffer)
    return path


def export_published(artifact_dir: str | Path, path: str | Path, program: str | None = None) -> Path:
    """The portable int8 `.pte` of a published model (`zoo/artifacts/<task>/<model>`, its `model_int8.pt2`), or
    of a further program it exports (`program`: e.g. "decode_step", `<program>/model_int8.pt2`), at the
    static input shapes the program was saved with, in the layout its `.pte` takes them (`export.input_layout`
    of its resolved config: NHWC programs take channels-last inputs, as the app writes them)."""
    artifact_dir = Path(artifact_dir)
    program_path = artifact_dir / (program or "") / "model_int8.pt2"
    if not program_path.is_file() or not (artifact_dir / "metrics.json").is_file():
        others = sorted(p.parent.name for p in artifact_dir.glob("*/model_int8.pt2"))
        raise TinyzooError(f"{artifact_dir} has no {program_path.relative_to(artifact_dir).as_posix()} and "
                           f"metrics.json: pass a published model's artifact directory, e.g. zoo/artifacts/kws/ds_cnn"
                           + (f" (its further programs: {', '.join(others)})" if others else ""))
    exported = load_quantized_program(program_path)
    user_inputs = set(exported.graph_signature.user_inputs)
    shapes = [node.meta["val"].shape for node in exported.graph.nodes
              if node.op == "placeholder" and node.name in user_inputs]
    resolved = artifact_dir / "config.resolved.yaml"
    layout = (load_config(resolved).get("export") or {}).get("input_layout", "NCHW") if resolved.is_file() else "NCHW"
    return export_portable(exported, in_layout(tuple(torch.zeros(*shape) for shape in shapes), layout), path)


def run_portable(pte_path: str | Path, model_input: torch.Tensor) -> torch.Tensor:
    """Run a portable `.pte` with ExecuTorch's Python runtime (same kernels as the host app); returns output 0."""
    _register_quantized_ops()
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(pte_path)).load_method("forward")
    return method.execute([model_input])[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact_dir", help="zoo/artifacts/<task>/<model>")
    parser.add_argument("output", help="where to write the .pte")
    parser.add_argument("--program", help="a further program of the model, e.g. decode_step (a language model's "
                                          "KV-cache decode step)")
    args = parser.parse_args(argv)
    try:
        print(export_published(args.artifact_dir, args.output, args.program))
    except TinyzooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
