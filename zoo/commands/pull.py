"""`tinyzoo pull MODEL`: a published model's artifacts from the Hub or a mirror, SHA-256 checked."""
from __future__ import annotations

from tinyzoo import hub

NAME = "pull"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="download a published model's artifacts (SHA-256 checked); prints the .pte "
                                         "path")
    s.add_argument("model")
    s.add_argument("--target", help="also that target's .pte / TOSA graph / reference output")
    s.add_argument("--source", help="a mirror (a directory, file:// or http(s) URL) instead of the Hugging Face Hub "
                                    "(default: $TINYZOO_MIRROR)")


def run(args) -> None:
    path = hub.pull(args.model, args.target, source=args.source)
    print(path)
