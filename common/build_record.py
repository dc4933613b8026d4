"""What a build wrote, kept beside it: `build_record.json` in a build (or `tinyzoo deploy`) folder holds the size
and SHA-256 of every model file the run wrote there (common/layout.py `model_files` and each target's
`target_files`). Wherever such a folder is read back (`tinyzoo eval` / `tinyzoo export --artifacts DIR`), `check`
compares the files used with it: one changed or removed after the run is an ArtifactError naming it. Published
artifacts are checked against zoo/index.json instead."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tinyzoo.common.errors import ArtifactError
from tinyzoo.common.layout import model_files, target_files

RECORD = "build_record.json"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (a build record's, the catalogue index's, a converted model's)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def written_files(folder: Path) -> list[str]:
    """The model files of a build folder, relative to it: its own and every target folder's."""
    folder = Path(folder)
    files = model_files(folder)
    for target in sorted(p for p in folder.iterdir() if (p / "model.pte").is_file()):
        files += [f"{target.name}/{f}" for f in target_files(target)]
    return files


def write(folder: Path) -> Path:
    """Record the size and SHA-256 of every model file in `folder` (after the run wrote them all)."""
    folder = Path(folder)
    record = {rel: {"bytes": (folder / rel).stat().st_size, "sha256": sha256_of(folder / rel)}
              for rel in written_files(folder)}
    path = folder / RECORD
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"files": record}, indent=1, sort_keys=True))
    tmp.replace(path)
    return path


def check(folder: Path, files: list[str]) -> bool:
    """Compare `files` (relative to `folder`) with the folder's record: False when it has none (an older build),
    True when every one of them the record names is the file the run wrote; an ArtifactError naming the first that
    is not (changed or removed since)."""
    folder = Path(folder)
    path = folder / RECORD
    if not path.is_file():
        return False
    try:
        record = json.loads(path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise ArtifactError(f"{path} is not a build record ({err}): rebuild into a fresh folder") from None
    for rel in files:
        entry, file = record.get(rel), folder / rel
        if entry is None:
            continue
        if not file.is_file():
            raise ArtifactError(f"{file} was written by the build ({RECORD}) and is gone: rebuild")
        if file.stat().st_size != entry["bytes"] or sha256_of(file) != entry["sha256"]:
            raise ArtifactError(f"{file} is not the file the build wrote (its size or SHA-256 differs from "
                                f"{RECORD}): it changed since; rebuild, or `tinyzoo pull` the published model")
    return True
