"""Per-target figures from Vela's reports: cycles, inference time at the system config's clock, SRAM, flash or
off-chip memory, MACs, MAC utilisation, NPU/CPU operators and the `.pte` size."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from tinyzoo.common.errors import TinyzooError

MEMORY_COLUMNS = {"sram_memory_used": "sram_kib", "dram_memory_used": "dram_kib",
                  "on_chip_flash_memory_used": "on_chip_flash_kib", "off_chip_flash_memory_used": "off_chip_flash_kib"}


def macs_per_cycle(target: str) -> int:
    """The MAC units of a target's configuration: `ethos-u55-128` → 128 MACs per cycle."""
    match = re.fullmatch(r"ethos-u\d+-(\d+)", target)
    if not match:
        raise TinyzooError(f"cannot read the MAC count from target name {target!r}")
    return int(match.group(1))


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def parse_vela_summary(vela_dir: Path) -> dict:
    """Vela's `<name>_summary_<system config>.csv`, read by column name."""
    files = sorted(Path(vela_dir).glob("*_summary_*.csv"))
    if not files:
        raise TinyzooError(f"no Vela summary CSV in {vela_dir}: was the model lowered with common.lower?")
    row = _rows(files[0])[0]
    number = lambda key: float(row[key]) if row.get(key, "") not in ("", None) else 0.0
    out = {
        "system_config": row.get("system_config", ""),
        "memory_mode": row.get("memory_mode", ""),
        "accelerator": row.get("accelerator_configuration", ""),
        "core_clock_hz": number("core_clock"),
        "cycles": int(number("cycles_total")),
        "npu_cycles": int(number("cycles_npu")),
        "inference_time_ms": number("inference_time") * 1000,
        "macs": int(number("nn_macs")),
        "weights_bytes_original": int(number("total_original_weights")),
        "weights_bytes_encoded": int(number("total_npu_encoded_weights")),
    }
    out.update({name: round(number(column), 2) for column, name in MEMORY_COLUMNS.items()})
    return out


def parse_vela_per_layer(vela_dir: Path) -> list[dict]:
    """Vela's `--verbose-performance` per-layer table: operator, cycles, MACs, utilisation per layer."""
    files = sorted(Path(vela_dir).glob("*_per-layer.csv"))
    if not files:
        return []
    layers = []
    for row in _rows(files[0]):
        layers.append({"operator": row.get("Original Operator", "").strip(),
                       "npu_op": row.get("NNG Operator", "").strip(),
                       "target": row.get("Target", "").strip(), "cycles": int(float(row.get("Op Cycles") or 0)),
                       "macs": int(float(row.get("MAC Count") or 0)),
                       "mac_utilisation_pct": float(row.get("Util% (MAC)") or 0)})
    return layers


def target_report(lowered) -> dict:
    """Everything the card shows for one target, from a `common.lower.Lowered`."""
    summary = parse_vela_summary(lowered.vela_dir)
    per_cycle = macs_per_cycle(lowered.target)
    cycles = summary["cycles"]
    flash = summary["off_chip_flash_kib"] + summary["on_chip_flash_kib"]
    return {
        "target": lowered.target,
        **summary,
        "macs_per_cycle": per_cycle,
        "mac_utilisation": round(summary["macs"] / (cycles * per_cycle), 4) if cycles else None,
        "flash_kib": round(flash, 2),
        "npu_ops": lowered.npu_ops,
        "cpu_ops": lowered.cpu_ops,
        "cpu_op_names": lowered.cpu_op_names,
        "cpu_op_details": lowered.cpu_op_details,
        "partitions": lowered.partitions,
        "npu_op_fraction": round(lowered.npu_ops / max(1, lowered.npu_ops + lowered.cpu_ops), 4),
        "pte_bytes": lowered.pte_path.stat().st_size,
        "layers": parse_vela_per_layer(lowered.vela_dir),
        "export_seconds": round(lowered.seconds, 2),
    }
