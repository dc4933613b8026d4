"""The `tinyzoo` commands, one module per command: `add_parser(subparsers)` (its arguments and help) and
`run(args)` (a thin handler: the chain lives in tinyzoo.common). tinyzoo.cli assembles the parser from them and
handles the errors. A command module is light (no torch at import, so `tinyzoo list` runs without it): what needs
the chain is imported inside `run`.

Modules are named as their commands (like pip's); `list` and `eval` are imported with a suffix
(`from tinyzoo.commands import list as list_command`) so that no builtin is shadowed.
"""
from __future__ import annotations

import argparse

from tinyzoo import registry
from tinyzoo.common.errors import TinyzooError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one TinyzooError line like every other user error (no usage dump)."""

    def error(self, message):
        models = f"; models: {', '.join(registry.list_models())}" if message.endswith("required: model") else ""
        raise TinyzooError(f"{message}{models} (see `{self.prog} --help`)")
