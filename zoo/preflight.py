"""Checks of a command's arguments that run before anything heavy is imported or any data is read: a mistyped
target, a data root that is not there, a model that cannot be built from its config. Each raises one
TinyzooError (the CLI prints it as one line)."""
from __future__ import annotations

import os
from pathlib import Path

from tinyzoo.common import targets as ethos_targets
from tinyzoo.common.errors import DatasetNotFoundError, TinyzooError

DOWNLOADABLE = ("speech_commands", "cifar10", "tinystories")     # what `tinyzoo data --download` fetches


def check_targets(targets: list[str] | None) -> None:
    if targets:
        for target in targets:
            ethos_targets.check(target)


def data_hint(dataset: str) -> str:
    if dataset in DOWNLOADABLE:
        return f"get it with `tinyzoo data {dataset} --download --data-root DIR`, then pass --data-root DIR"
    return "pass --data-root DIR pointing at a folder in the dataset's layout (see the recipe's README)"


def given_data_root(root: Path | None) -> tuple[Path | None, str]:
    """The data root a command reads: --data-root, else $TINYZOO_DATA, else None; and where it came from."""
    if root is not None:
        return Path(root), "--data-root"
    if os.environ.get("TINYZOO_DATA"):
        return Path(os.environ["TINYZOO_DATA"]), "$TINYZOO_DATA"
    return None, ""


def check_data_root(cfg: dict, root: Path | None, *, needed: bool, file_ok: bool = False) -> None:
    """The data root must be an existing folder (or, `file_ok`, the text file a language model is evaluated on);
    `needed`: the model has no bundled default data."""
    dataset = cfg["data"].get("dataset", "")
    path, origin = given_data_root(root)
    if path is None:
        if needed:
            raise DatasetNotFoundError(f"no data root: {dataset} data is not bundled; {data_hint(dataset)} "
                                       f"(or set TINYZOO_DATA)")
        return
    if not path.is_dir() and not (file_ok and path.is_file()):
        what = "does not exist" if not path.exists() else "is not a folder"
        raise DatasetNotFoundError(f"data root {path} (from {origin}) {what}; {data_hint(dataset)}")


def check_artifacts_dir(path: Path | None) -> None:
    if path is not None and not Path(path).is_dir():
        raise TinyzooError(f"--artifacts {path} is not a folder: pass a build folder (e.g. build/<task>/<model>)")
