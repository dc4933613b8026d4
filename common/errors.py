"""Errors a user can act on. Each message says what was wrong and what to do about it."""


class TinyzooError(Exception):
    """Base class: the CLI prints these as one clear line instead of a traceback, exit status `exit_code`."""

    exit_code = 2


class DatasetNotFoundError(TinyzooError, FileNotFoundError):
    """A dataset is not where we looked. The message names the paths and how to get the data."""


class UnknownModelError(TinyzooError, KeyError):
    def __str__(self):  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class UnknownTargetError(TinyzooError, ValueError):
    pass


class CpuFallbackError(TinyzooError):
    """Operators were left on the CPU for a target that must run 100 % on the NPU."""


class ToolMissingError(TinyzooError):
    """An external program (e.g. a text-to-speech engine) is not installed."""


class TrainingError(TinyzooError):
    """Training cannot go on (e.g. the loss became NaN): no checkpoint is written past the last good epoch."""


class ArtifactError(TinyzooError):
    """A missing, truncated or corrupt artifact (checkpoint, .pte, download)."""


class ConfigError(TinyzooError, ValueError):
    """A recipe config value the chain cannot use (unknown key, optimizer, engine, dataset, …)."""


class DivergenceError(TinyzooError):
    """The integer graph Vela compiles computes something else than the int8 model that was validated (--strict)."""


class ExportError(TinyzooError):
    """torch.export could not trace the model: its own message and the line of the model it stopped at."""


class DependencyError(TinyzooError):
    """A dependency (ExecuTorch, TOSA, Vela) failed or crashed doing its part: the message names what it was doing
    (target, stage) and where. Not the user's mistake, not tinyzoo's bug: exit status 3."""

    exit_code = 3
