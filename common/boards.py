"""Will a model's firmware fit a board? Memory maps of the supported boards, the memory pools a reference app
needs for a given `.pte` (common/firmware/runtime), and per board and memory "fits" or "needs N KiB more".

The pools (names as in common/firmware/runtime/tz_pools.h):
  model         the .pte itself (Vela's command stream and weights are inside it; for a language model also its
                int8 embedding table): read-only, in flash / MRAM /
                DDR; in SRAM for an Sram_Only model (Vela then expects its "flash" data in SRAM too).
  method_pool   ExecuTorch's method metadata plus the memory-planned buffers (the .pte's non_const_buffer_sizes).
                The metadata part is an estimate (`method_metadata_bytes`), an upper bound for a 32-bit core.
  temp_pool     the Ethos-U scratch (Vela's tensor arena) the delegate takes from the temp allocator on every run:
                the .pte's scratch_size (get_ethosu_scratch_from_pte). In SRAM the NPU reaches for Shared_Sram /
                Sram_Only; in DRAM for Dedicated_Sram.
  fast_scratch  Dedicated_Sram only: the NPU's dedicated SRAM cache (the size in the memory mode's name, 384 KiB
                by default), in SRAM.
  app           the app's own buffers: the front end's input and working memory and the int8 input.
  stack_heap    the board's stack and heap reservation (its linker script).

    python -m tinyzoo.common.boards zoo/artifacts/kws/ds_cnn            # every target x supported board
    python -m tinyzoo.common.boards zoo/artifacts/kws/ds_cnn ethos-u55-128 alif-e7
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tinyzoo.common import tasks
from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.report import parse_vela_summary

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    npus: tuple[str, ...]                 # Ethos-U targets (common.targets.NAMES) the board carries
    memories: dict[str, int]              # memory -> bytes available to the app
    placement: dict[str, str]             # pool -> memory (see the module docstring); "dram" pools for Dedicated_Sram
    stack_heap: int                       # bytes reserved in placement["stack_heap"]
    source: str                           # where the numbers come from
    unverified: tuple[str, ...] = field(default_factory=tuple)


BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("corstone-300", "Arm Corstone-300 (SSE-300): Cortex-M55 + Ethos-U55 or U65; "
                          "FVP_Corstone_SSE-300_Ethos-U55/-U65, MPS3 AN552",
          npus=("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u65-512"),
          memories={"ITCM": 512 * KIB, "DTCM": 512 * KIB, "SRAM": 2 * MIB, "DDR": 1536 * MIB},
          placement={"model": "DDR", "model_sram_only": "SRAM", "method_pool": "DDR", "temp_pool": "SRAM",
                     "temp_pool_dedicated": "DDR", "fast_scratch": "SRAM", "app": "DTCM", "stack_heap": "DTCM"},
          stack_heap=64 * KIB,
          source="ExecuTorch examples/arm/executor_runner/Corstone-300.ld (MEMORY; stack 32 KiB + heap 32 KiB in "
                 "DTCM; model and method pool in DDR, arena in SRAM for Shared_Sram/Sram_Only)"),
    Board("corstone-320", "Arm Corstone-320 (SSE-320): Cortex-M85 + Ethos-U85; FVP_Corstone_SSE-320, MPS4",
          npus=("ethos-u85-128", "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024", "ethos-u85-2048"),
          memories={"ITCM": 32 * KIB, "DTCM": 32 * KIB, "BRAM": 2 * MIB, "SRAM": 4 * MIB, "DDR": 256 * MIB},
          placement={"model": "DDR", "model_sram_only": "SRAM", "method_pool": "DDR", "temp_pool": "SRAM",
                     "temp_pool_dedicated": "DDR", "fast_scratch": "SRAM", "app": "BRAM", "stack_heap": "BRAM"},
          stack_heap=64 * KIB,
          source="ExecuTorch examples/arm/executor_runner/Corstone-320.ld (MEMORY; heap 64 KiB in BRAM, the 32 KiB "
                 "stack fills DTCM and is not counted)"),
    Board("alif-e7", "Alif Ensemble E7, RTSS-HP core: Cortex-M55 @400 MHz + Ethos-U55-256",
          npus=("ethos-u55-256",),
          memories={"ITCM": 256 * KIB, "DTCM": 1 * MIB, "SRAM0": 4 * MIB, "SRAM1": 2560 * KIB, "MRAM": 0x477000},
          placement={"model": "MRAM", "model_sram_only": "SRAM0", "method_pool": "DTCM", "temp_pool": "SRAM1",
                     "temp_pool_dedicated": "SRAM0", "fast_scratch": "SRAM1", "app": "DTCM", "stack_heap": "DTCM"},
          stack_heap=0x8000 + 0x17000,
          source="alifsemi/alif_ml-embedded-evaluation-kit "
                 "scripts/cmake/platforms/alif/AE722F80F55D5/rtss_hp/RTSS-HP.ld "
                 "(ITCM 256 KiB, DTCM 1 MiB, SRAM0 4 MiB, SRAM1 2.5 MiB, MRAM application region 0x477000; "
                 "NPU arena .bss.NoInit.activation_buf_sram in SRAM1; stack 32 KiB + heap 92 KiB in DTCM)"),
    Board("alif-e7-he", "Alif Ensemble E7, RTSS-HE core: Cortex-M55 @160 MHz + Ethos-U55-128",
          npus=("ethos-u55-128",),
          memories={"ITCM": 256 * KIB, "DTCM": 256 * KIB, "SRAM0": 4 * MIB, "SRAM1": 2560 * KIB, "MRAM": 0x47F000},
          placement={"model": "MRAM", "model_sram_only": "SRAM0", "method_pool": "DTCM", "temp_pool": "SRAM1",
                     "temp_pool_dedicated": "SRAM0", "fast_scratch": "SRAM1", "app": "DTCM", "stack_heap": "DTCM"},
          stack_heap=0x1800 + 0x8000,
          source="alifsemi/alif_ml-embedded-evaluation-kit .../AE722F80F55D5/rtss_he/RTSS-HE.ld (DTCM 256 KiB, "
                 "MRAM region 0x47F000, stack 6 KiB + heap 32 KiB)"),
    Board("alif-e8", "Alif Ensemble E8, RTSS-HP core: Cortex-M55 @400 MHz + Ethos-U55-256 and the shared Ethos-U85-256",
          npus=("ethos-u55-256", "ethos-u85-256"),
          memories={"ITCM": 256 * KIB, "DTCM": 1 * MIB, "SRAM": 7 * MIB, "MRAM": 0x477000},
          placement={"model": "MRAM", "model_sram_only": "SRAM", "method_pool": "DTCM", "temp_pool": "SRAM",
                     "temp_pool_dedicated": "SRAM", "fast_scratch": "SRAM", "app": "DTCM", "stack_heap": "DTCM"},
          stack_heap=0x8000 + 0x17000,
          source="alifsemi/alif_ml-embedded-evaluation-kit .../AE822FA0E5597/rtss_hp/RTSS-HP.ld and alif_mem_config.h "
                 "(SRAM 8 MiB, of which the linker's SRAM region is 7 MiB and 1 MiB 'unstriped' for the display)",
          unverified=("the U85's MAC count (256) is from Alif's Zephyr samples and ExecuTorch's Alif tutorial, not "
                      "from a datasheet read here",)),
    Board("alif-e8-he", "Alif Ensemble E8, RTSS-HE core: Cortex-M55 @160 MHz + Ethos-U55-128",
          npus=("ethos-u55-128",),
          memories={"ITCM": 256 * KIB, "DTCM": 256 * KIB, "SRAM": 7 * MIB, "MRAM": 0x47F000},
          placement={"model": "MRAM", "model_sram_only": "SRAM", "method_pool": "DTCM", "temp_pool": "SRAM",
                     "temp_pool_dedicated": "SRAM", "fast_scratch": "SRAM", "app": "DTCM", "stack_heap": "DTCM"},
          stack_heap=0x1800 + 0x8000,
          source="alifsemi/alif_ml-embedded-evaluation-kit .../AE822FA0E5597/rtss_he/RTSS-HE.ld"),
)}


def board(name: str) -> Board:
    if name not in BOARDS:
        raise TinyzooError(f"unknown board {name!r}; boards: {', '.join(BOARDS)}")
    return BOARDS[name]


@dataclass(frozen=True)
class PteFacts:
    pte_bytes: int
    planned_bytes: int           # sum of the memory-planned buffers (mem_id >= 1)
    planned_buffers: tuple[int, ...]
    scratch_bytes: int           # Ethos-U scratch (largest over delegates), 0 if none
    metadata_bytes: int          # estimated method metadata in the method pool
    delegates: tuple[str, ...]


def method_metadata_bytes(plan) -> int:
    """Estimated bytes of the method allocator that are not planned buffers: the EValue table, one tensor header
    per tensor (sizes, dim order, strides), the kernel and argument tables of every instruction, delegate handles.

    The per-item sizes are those of a 64-bit host, where the raw sum is within 2 % of what the host app measured
    for the portable programs (kws/ds_cnn: 25,944 vs 25,880 bytes; vision/resnet8_cifar10: 30,808 vs 30,296;
    `memory method_pool_used - planned` in its output); a 32-bit Cortex-M needs less
    (4-byte pointers), so on the device this is an upper bound. 25 % and 1 KiB are added for what it does not count."""
    tensors = [v.val for v in plan.values if type(v.val).__name__ == "Tensor"]
    dims = sum(len(t.sizes) for t in tensors)
    instructions = [i for chain in plan.chains for i in chain.instructions]
    args = sum(len(getattr(i.instr_args, "args", None) or []) for i in instructions)
    raw = 16 * len(plan.values) + 72 * len(tensors) + 9 * dims + 8 * args + 24 * len(instructions) \
        + 256 * len(plan.delegates)
    return int(raw * 1.25) + KIB


@lru_cache(maxsize=64)
def _pte_facts(path: str, mtime: float) -> PteFacts:
    from executorch.backends.arm.scripts.get_ethosu_scratch_from_pte import (
        get_scratch_size_from_delegate,
    )
    from executorch.exir._serialize._program import deserialize_pte_binary

    data = Path(path).read_bytes()
    try:
        program = deserialize_pte_binary(data).program
    except Exception as error:  # noqa: BLE001 (flatbuffer errors have no common type)
        raise TinyzooError(f"{path} is not a readable ExecuTorch .pte ({error}); export it again") from error
    plan = program.execution_plan[0]
    scratch = []
    for delegate in plan.delegates:
        if delegate.id == "EthosUBackend":
            size = get_scratch_size_from_delegate(program.backend_delegate_data[delegate.processed.index].data)
            scratch.append(size or 0)
    planned = tuple(int(s) for s in plan.non_const_buffer_sizes[1:])   # index 0 is reserved (constants)
    return PteFacts(pte_bytes=len(data), planned_bytes=sum(planned), planned_buffers=planned,
                    scratch_bytes=max(scratch, default=0), metadata_bytes=method_metadata_bytes(plan),
                    delegates=tuple(d.id for d in plan.delegates))


def pte_facts(pte_path: str | Path) -> PteFacts:
    path = Path(pte_path)
    if not path.is_file():
        raise TinyzooError(f"no .pte at {path}")
    return _pte_facts(str(path.resolve()), path.stat().st_mtime)


def app_buffer_bytes(metrics: dict, program: str | None = None) -> int:
    """The reference app's own buffers (common/firmware/apps/<task>.cpp) running the model's first program or
    a further one, by its task (`Task.app_buffer_bytes`)."""
    return tasks.of(metrics).app_buffer_bytes(metrics, program)


def read_only_data_bytes(metrics: dict, program: str | None = None) -> int:
    """Read-only app data stored with the model (`Task.read_only_data_bytes`: a language model's embedding table)."""
    return tasks.of(metrics).read_only_data_bytes(metrics, program)


def memory_fit(pte_path: str | Path, target_report: dict, board_name: str, *, app_bytes: int = 0,
               model_data_bytes: int = 0) -> dict:
    """The pools the app needs for this `.pte` and where they go on `board_name`, per memory "fits" or
    "needs N KiB more".

    model_data_bytes: read-only data stored next to the .pte (read_only_data_bytes: an LM's embedding table).
    target_report: the target's entry of metrics.json `targets` (common/report.py): `target` and `memory_mode`
    are used (Vela's sram_kib is reported next to the .pte's scratch for comparison).
    Returns {"board", "target", "supported", "memory_mode", "pools": {pool: {"bytes", "memory"}},
    "memories": {memory: {"used", "size", "fits", "short_kib"}}, "fits", "summary"}."""
    b = board(board_name)
    target = target_report.get("target", "")
    mode = target_report.get("memory_mode") or "Shared_Sram"
    result = {"board": b.name, "target": target, "memory_mode": mode, "supported": target in b.npus}
    if not result["supported"]:
        result.update(fits=None, pools={}, memories={},
                      summary=f"{b.name} has no {target} (it carries {', '.join(b.npus)})")
        return result
    facts = pte_facts(pte_path)
    if facts.delegates and "EthosUBackend" not in facts.delegates:
        raise TinyzooError(f"{pte_path}: delegates {facts.delegates}, not an Ethos-U program")
    dedicated = mode.startswith("Dedicated_Sram")
    pools = {
        "model": (facts.pte_bytes + model_data_bytes,
                  b.placement["model_sram_only" if mode == "Sram_Only" else "model"]),
        "method_pool": (facts.metadata_bytes + facts.planned_bytes, b.placement["method_pool"]),
        "temp_pool": (facts.scratch_bytes, b.placement["temp_pool_dedicated" if dedicated else "temp_pool"]),
        "app": (app_bytes, b.placement["app"]),
        "stack_heap": (b.stack_heap, b.placement["stack_heap"]),
    }
    if dedicated:
        match = re.search(r"(\d+)KB", mode)
        pools["fast_scratch"] = ((int(match.group(1)) if match else 384) * KIB, b.placement["fast_scratch"])
    used: dict[str, int] = {}
    for size, memory in pools.values():
        used[memory] = used.get(memory, 0) + size
    memories = {}
    for memory, total in used.items():
        size = b.memories[memory]
        short = max(0, total - size)
        memories[memory] = {"used": total, "size": size, "fits": short == 0,
                            "short_kib": round(short / KIB, 1)}
    fits = all(m["fits"] for m in memories.values())
    if fits:
        summary = "fits (" + ", ".join(f"{m}: {v['used'] / KIB:.1f} of {v['size'] / KIB:.0f} KiB"
                                       for m, v in memories.items()) + ")"
    else:
        summary = "; ".join(f"needs {v['short_kib']:.1f} KiB more {m} ("
                            + " + ".join(f"{p} {s / KIB:.1f}" for p, (s, mem) in pools.items() if mem == m and s)
                            + f" KiB > {v['size'] / KIB:.0f} KiB)"
                            for m, v in memories.items() if not v["fits"])
    result.update(
        fits=fits, summary=summary, memories=memories,
        pools={name: {"bytes": size, "memory": memory} for name, (size, memory) in pools.items()},
        scratch_bytes=facts.scratch_bytes, vela_sram_kib=target_report.get("sram_kib"),
        planned_bytes=facts.planned_bytes, metadata_bytes_estimate=facts.metadata_bytes)
    return result


def fit_table(artifact_dir: str | Path, boards: list[str] | None = None, targets: list[str] | None = None,
              metrics: dict | None = None) -> list[dict]:
    """memory_fit for every published target of a model (`zoo/artifacts/<task>/<model>` or a build dir) on every
    board that carries it: one row per (target, program, board) with "fits" or "needs N KiB more" (a further
    program's rows name it: "program"). `metrics` defaults to the folder's metrics.json."""
    artifact_dir = Path(artifact_dir)
    if metrics is None:
        metrics_path = artifact_dir / "metrics.json"
        if not metrics_path.is_file():
            raise TinyzooError(f"no metrics.json in {artifact_dir}")
        metrics = json.loads(metrics_path.read_text())
    rows = []
    for target, report in metrics["targets"].items():
        if targets and target not in targets:
            continue
        # the model's first program (model.pte), then each further one (<program>/model.pte: an LM's decode step)
        programs = [None] + sorted(p.parent.name for p in (artifact_dir / target).glob("*/model.pte"))
        for program in programs:
            app, data = app_buffer_bytes(metrics, program), read_only_data_bytes(metrics, program)
            for name in boards or list(BOARDS):
                if target not in board(name).npus:
                    continue
                fit = memory_fit(artifact_dir / target / (program or "") / "model.pte", {"target": target, **report},
                                 name, app_bytes=app, model_data_bytes=data)
                rows.append({**fit, "program": program} if program else fit)
    return rows


def memory_fit_lines(low, metrics: dict) -> list[str]:
    """One line per board that carries the lowered target: "fits (...)" or "needs N KiB more ..."
    (memory_fit on the new .pte of a common.lower.Lowered; Vela's memory mode and SRAM from this lowering, the
    app's own buffers from the model's metrics ({} when the folder has none))."""
    vela = parse_vela_summary(low.vela_dir)
    report = {"target": low.target, "memory_mode": low.memory_mode or vela["memory_mode"],
              "sram_kib": vela.get("sram_kib")}
    app_bytes, data_bytes, note = 0, 0, " (app buffers not counted: no metrics.json)"
    if metrics:
        app_bytes, data_bytes, note = app_buffer_bytes(metrics), read_only_data_bytes(metrics), ""
    boards = [name for name, board in BOARDS.items() if low.target in board.npus]
    if not boards:
        return [f"  memory fit: no supported board carries {low.target} (boards: {', '.join(BOARDS)})"]
    lines = []
    for name in boards:
        fit = memory_fit(low.pte_path, report, name, app_bytes=app_bytes, model_data_bytes=data_bytes)
        lines.append(f"  memory fit on {name}: {fit['summary']}{note}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Memory fit of a model's firmware per board.")
    parser.add_argument("artifact_dir", help="zoo/artifacts/<task>/<model>")
    parser.add_argument("target", nargs="?", help="one Ethos-U target (default: all published)")
    parser.add_argument("board", nargs="?", help="one board (default: all that carry the target)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = fit_table(args.artifact_dir, [args.board] if args.board else None, [args.target] if args.target else None)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        pools = ", ".join(f"{p} {v['bytes'] / KIB:.1f} KiB->{v['memory']}" for p, v in row["pools"].items())
        target = row["target"] + (f" {row['program']}" if row.get("program") else "")
        print(f"{target:<15} {row['board']:<13} {row['memory_mode']:<20} {row['summary']}\n    {pools}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
