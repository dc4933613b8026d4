"""One step of the chain in a child process, as test runners isolate native crashes: a segmentation fault or an
exception inside a dependency (ExecuTorch, TOSA, Vela) ends the child, not the build, and comes back as one
`DependencyError` line naming what ran, the stage it had reached and, for an exception, where in the dependency
it was raised. The step reports its stages (`stage("Vela")`); a long one shows the parent's progress lines."""
from __future__ import annotations

import importlib
import logging
import multiprocessing
import signal
import time
import traceback
from pathlib import Path
from typing import Callable

from tinyzoo.common.errors import DependencyError, TinyzooError

PROGRESS_EVERY_S = 60.0
DEPENDENCIES = ("executorch", "tosa", "ethosu", "vela", "torch")   # where a frame's file says whose code failed


def _where(err: BaseException) -> str:
    """The innermost frame of the traceback inside a dependency's code, as `package/…/file.py:line (function)`."""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        parts = Path(frame.filename).parts
        if "site-packages" in parts:
            inside = parts[parts.index("site-packages") + 1:]
            if inside and any(inside[0].startswith(d) for d in DEPENDENCIES):
                return f"{'/'.join(inside)}:{frame.lineno} ({frame.name})"
    return ""


def _child(conn, where: tuple[str, str], args: tuple, kwargs: dict) -> None:
    def stage(name: str) -> None:
        conn.send(("stage", name))

    # as the CLI does (zoo/cli.py main): torchao's Enum registrations warn on every import of torch 2.14
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    try:
        fn = getattr(importlib.import_module(where[0]), where[1])   # imported here, after the line above
        result = fn(*args, stage=stage, **kwargs)
    except TinyzooError as err:            # ours: the user's mistake or a named refusal, as it is
        try:
            conn.send(("refused", err))
        except Exception:                  # noqa: BLE001 — an error that does not pickle: its text
            conn.send(("refused", TinyzooError(str(err))))
    except BaseException as err:           # noqa: BLE001 — a dependency's exception, named in the parent
        first = (str(err).strip().splitlines() or [""])[0]
        conn.send(("failed", f"{type(err).__name__}: {first}"[:500], _where(err)))
    else:
        conn.send(("done", result))
    finally:
        conn.close()


def run(fn: Callable, *args, what: str, log=print, **kwargs):
    """`fn(*args, stage=report, **kwargs)` in a fresh (spawned) Python process; its return value. `fn` is a
    module-level function and its arguments pickle (tensors, paths, dataclasses). A `TinyzooError` it raises is
    raised here as it is; any other exception, or the child's death by a signal, is a `DependencyError` naming
    `what` (e.g. the target), the last stage reached and where it failed. Every PROGRESS_EVERY_S seconds
    `log` says which stage is running and for how long."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, (fn.__module__, fn.__qualname__), args, kwargs),
                              daemon=True)
    start = time.perf_counter()
    process.start()
    send.close()
    stage, outcome = "starting", None
    try:
        while outcome is None:
            if receive.poll(PROGRESS_EVERY_S):
                try:
                    message = receive.recv()
                except EOFError:          # the child ended without a word: it died
                    break
                if message[0] == "stage":
                    stage = message[1]
                else:
                    outcome = message
            else:
                log(f"  {what}: {stage} ({time.perf_counter() - start:.0f} s so far)")
        process.join()
    except KeyboardInterrupt:
        process.terminate()
        process.join()
        raise
    finally:
        receive.close()
    if outcome is None:
        code = process.exitcode
        how = (f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exited with status {code}")
        raise DependencyError(f"{what}: the process doing it {how} during {stage} after "
                              f"{time.perf_counter() - start:.0f} s (a crash inside a dependency, not something "
                              f"your model or options could cause; rerun with the other targets, or report it with "
                              f"the model)")
    if outcome[0] == "refused":
        raise outcome[1]
    if outcome[0] == "failed":
        message, where = outcome[1], outcome[2]
        raise DependencyError(f"{what}: {stage} failed: {message}" + (f" (raised in {where})" if where else ""))
    return outcome[1]
