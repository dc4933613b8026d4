"""Ethos-U targets. A target's name is Vela's accelerator config (`ethos-u55-128`: the U55 with 128 MACs per
cycle); `get(name)` is its `Target`, which owns the system config and memory mode ExecuTorch's compile spec picks
for it (`Arm/vela.ini`: U55 Ethos_U55_High_End_Embedded / Shared_Sram, U65 Ethos_U65_High_End /
Dedicated_Sram_384KB, U85 Ethos_U85_SYS_DRAM_Mid / Sram_Only) and builds the one `EthosUCompileSpec` the
quantizer, the partitioner and Vela on a reference `.tflite` all use. A name is checked once, here."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from tinyzoo.common.errors import UnknownTargetError

NAMES = (
    "ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256",
    "ethos-u65-256", "ethos-u65-512",
    "ethos-u85-128", "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024", "ethos-u85-2048",
)


def check(name: str) -> str:
    """`name` if it is an Ethos-U target, else an UnknownTargetError listing them."""
    if name not in NAMES:
        raise UnknownTargetError(f"unknown target {name!r}; Ethos-U targets are: {', '.join(NAMES)}")
    return name


@dataclass(frozen=True)
class Target:
    name: str            # Vela's accelerator config
    system_config: str   # Vela's system config (Arm/vela.ini)
    memory_mode: str     # Vela's memory mode

    def compile_spec(self, dump_to: str | Path | None = None, verbose_performance: bool = False):
        """ExecuTorch's EthosUCompileSpec for this target (with `dump_to`: the TOSA graph and Vela's reports
        written there; `verbose_performance`: Vela's per-layer report)."""
        from executorch.backends.arm.ethosu import EthosUCompileSpec  # heavy: only when the chain runs

        spec = EthosUCompileSpec(self.name, system_config=self.system_config, memory_mode=self.memory_mode,
                                 extra_flags=["--verbose-performance"] if verbose_performance else None)
        return spec.dump_intermediate_artifacts_to(str(dump_to)) if dump_to is not None else spec


@functools.cache
def get(name: str, system_config: str | None = None, memory_mode: str | None = None) -> Target:
    """The target `name`, with ExecuTorch's default system config and memory mode unless given."""
    from executorch.backends.arm.ethosu import EthosUCompileSpec

    system_config, memory_mode = EthosUCompileSpec._default_system_config_and_memory_mode(
        check(name), system_config, memory_mode)
    return Target(name, system_config, memory_mode)
