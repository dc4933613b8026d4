"""`tinyzoo data DATASET`: where a dataset is (downloaded with --download)."""
from __future__ import annotations

from pathlib import Path

from tinyzoo import preflight
from tinyzoo.common.data import tinystories
from tinyzoo.common.errors import TinyzooError

NAME = "data"


def add_parser(subparsers) -> None:
    s = subparsers.add_parser(NAME, help="locate or download a dataset")
    s.add_argument("dataset", help=", ".join(preflight.DOWNLOADABLE))
    s.add_argument("--data-root", type=Path, help="default: $TINYZOO_DATA, else ~/.cache/tinyzoo/data")
    s.add_argument("--download", action="store_true")


def run(args) -> None:
    root = preflight.given_data_root(args.data_root)[0] or Path.home() / ".cache" / "tinyzoo" / "data"
    if args.dataset == "speech_commands":
        from tinyzoo.common.data.speech_commands import (
            download_speech_commands,
            find_speech_commands,
        )

        if args.download:
            download_speech_commands(root, "speech_commands_v0.02")
        print(find_speech_commands(root))
    elif args.dataset == "cifar10":
        from tinyzoo.common.data.cifar10 import FOLDER, cifar10

        cifar10(root, train=False, download=args.download)
        print(root / FOLDER)
    elif args.dataset == "tinystories":
        if args.download:
            tinystories.download(root)
        print(tinystories.find_file(root, "validation").parent)
    else:
        raise TinyzooError(f"unknown dataset {args.dataset!r}; available: {', '.join(preflight.DOWNLOADABLE)}")
