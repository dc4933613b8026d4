"""`tinyzoo` — list, inspect, build, export and evaluate the zoo's models."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from tinyzoo.commands import (
    OneLineParser,
    build,
    card,
    data,
    deploy,
    export,
    index,
    info,
    publish,
    pull,
)
from tinyzoo.commands import eval as eval_command
from tinyzoo.commands import list as list_command
from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.layout import checkout

# the commands, in the order `tinyzoo --help` lists them
COMMANDS = (list_command, info, build, eval_command, export, card, publish, pull, deploy, index, data)


def package_version() -> str:
    """The installed tinyzoo's version, else the one in this checkout's pyproject.toml."""
    import importlib.metadata

    try:
        return importlib.metadata.version("tinyzoo")
    except importlib.metadata.PackageNotFoundError:
        import tomllib
        return tomllib.loads((checkout("the version") / "pyproject.toml").read_text())["project"]["version"]


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="tinyzoo", description=__doc__,
                      epilog="--debug (anywhere) or TINYZOO_DEBUG=1: show Python tracebacks instead of one-line errors")
    p.add_argument("--version", action="version", version=f"tinyzoo {package_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _run(argv: list[str]) -> int:
    args, rest = parser().parse_known_args(argv)
    command = next(c for c in COMMANDS if c.NAME == args.command)
    code = 0
    if command is build:   # the options left are the model's build options
        code = build.run(args, rest)
    elif rest:
        raise TinyzooError(f"unrecognized arguments: {' '.join(rest)} (see `tinyzoo {args.command} --help`)")
    else:
        command.run(args)
    sys.stdout.flush()    # a closed pipe shows here, inside the handlers below, not at interpreter exit
    return code


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 a user error (one line on stderr), 3 a dependency (ExecuTorch, TOSA, Vela) failed or
    crashed, named with its target and stage (one line), 130 interrupted, 141 output pipe closed, 1 an unexpected
    error (a bug: one line; --debug or TINYZOO_DEBUG=1 shows the traceback)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # torchao registers two Enums with torch's pytree at import and torch 2.14 warns about it on every run
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    debug = "--debug" in argv or os.environ.get("TINYZOO_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        code = _run(argv)
    except SystemExit as done:      # --help / --version
        return done.code if isinstance(done.code, int) else 0
    except TinyzooError as err:
        if debug:
            raise
        print(f"tinyzoo: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        if debug:
            raise
        print("\ntinyzoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _stdout_to_devnull()
        return 141
    except Exception as err:   # noqa: BLE001 — a bug: still one line unless debugging
        if debug:
            raise
        print(f"tinyzoo: error: unexpected {type(err).__name__}: {err} (a bug in tinyzoo: rerun with --debug "
              f"or TINYZOO_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return 1
    return code


def _stdout_to_devnull() -> None:
    """After the reader of our output went away: nothing more can be written, and Python must not complain
    when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # stdout is not a real file (e.g. captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
