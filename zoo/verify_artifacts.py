"""Before `tinyzoo eval` / `tinyzoo export` load anything: every artifact they use is checked, so a damaged file
is one clear ArtifactError naming it and what to do, never a traceback, a wrong result or a crash of the TOSA
reference model.

  * the published artifacts (zoo/artifacts/<task>/<model>/): size and SHA-256 against zoo/index.json;
  * a build folder (`--artifacts DIR`): each file is the one the build wrote (size and SHA-256 against its
    build_record.json, common/build_record.py), exists, is not empty and is intact — torch.save / torch.export
    archives end with their zip end record and pass their CRC checks, then load (the checkpoint into the model
    its config builds), JSON and YAML parse (the config against common.config.schema()), a .pte carries the
    ExecuTorch flatbuffer identifier, and a TOSA graph is walked (every region, block, tensor and operator,
    every vector and name inside the file, every operator's tensors defined) before it can reach the reference
    model, which crashes on a truncated graph.
"""
from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from tinyzoo import hub
from tinyzoo.common import build_record
from tinyzoo.common.builders import build_model
from tinyzoo.common.config import config_problems, load_config
from tinyzoo.common.errors import ArtifactError, TinyzooError
from tinyzoo.common.layout import shown, split_name


def eval_files(artifacts: Path, targets: list[str], task_files: tuple[str, ...] = ()) -> list[str]:
    """What `tinyzoo eval` reads: the weights, the fake-quant program, the task's own files (`Task.eval_files`)
    and each target's TOSA graph and .pte."""
    files = ["checkpoint.pt", "model_int8.pt2"]
    if (artifacts / "config.resolved.yaml").exists():
        files.append("config.resolved.yaml")
    files += list(task_files)
    for target in targets:
        files += [f"{target}/model.tosa", f"{target}/model.pte"]
    return files


def export_files(artifacts: Path) -> list[str]:
    return ["model_int8.pt2", "config.resolved.yaml"] + (["metrics.json"] if (artifacts / "metrics.json").exists()
                                                          else [])


def available_targets(artifacts: Path) -> list[str]:
    return sorted(p.parent.name for p in Path(artifacts).glob("*/model.tosa"))


def choose_targets(model, artifacts: Path, wanted: list[str] | None) -> list[str]:
    """The targets to evaluate: those asked for (each must have a lowered graph here), else all that have one."""
    available = available_targets(artifacts)
    missing = [t for t in wanted or [] if t not in available]
    if missing:
        raise ArtifactError(f"no lowered graph for {', '.join(missing)} in {artifacts} (available: "
                            f"{', '.join(available) or 'none'}); lower it with `tinyzoo export {model.name} --target "
                            f"{missing[0]}` or rebuild with --target {missing[0]}")
    if not available:
        raise ArtifactError(f"{artifacts} holds no lowered graph (<target>/model.tosa): build the model first "
                            f"(`tinyzoo build {model.name}`) or pass the build folder with --artifacts")
    return list(wanted or available)


def check(model, artifacts: Path, files: list[str], *, published: bool, load: bool = True) -> bool:
    """Raise ArtifactError for the first damaged file of `files` (paths relative to `artifacts`). Files the index
    does not vouch for are checked against the folder's build record, for integrity and, with `load`, the
    checkpoint and int8 program are loaded (a caller that loads them itself uses `load_program` instead). Returns
    whether a build record vouched for them (False for the published artifacts: the index did)."""
    artifacts = Path(artifacts)
    if "config.resolved.yaml" in files and (artifacts / "config.resolved.yaml").is_file():
        _check_same_model(model, artifacts)
    entries = _index_entries(model.name) if published else None
    recorded = not published and build_record.check(artifacts, files)
    for rel in files:
        path = artifacts / rel
        if entries is not None and rel in entries:
            _check_against_index(model, path, rel, entries[rel])
        else:
            _check_intact(model, path, artifacts)
            problem = _load_problem(model, path, artifacts) if load else None
            if problem:
                raise ArtifactError(f"{path} does not load ({problem}): {_fix(model, artifacts)}")
    return recorded


def _check_same_model(model, artifacts: Path) -> None:
    """A build folder of another model would be evaluated (or exported) under this model's name: the catalogue name
    its metrics.json records (with its weights tag), else the recipe its config builds."""
    import json


    metrics = artifacts / "metrics.json"
    recorded = json.loads(metrics.read_text()).get("model") if metrics.is_file() else None
    section = load_config(artifacts / "config.resolved.yaml").get("model")
    built = recorded or (section.get("name") if isinstance(section, dict) else None)
    if built != (model.name if recorded else split_name(model.name)[0]):
        raise ArtifactError(f"{artifacts} is a build of {built}, not {model.name}: pass {model.name}'s own build "
                            f"folder, or run the command for {built}")


def load_program(model, artifacts: Path):
    """The int8 fake-quant program of `artifacts`, a loading error as one ArtifactError naming the file."""
    path = Path(artifacts) / "model_int8.pt2"
    program, problem = _load(path, lambda: _quantized_program(path))
    if problem:
        raise ArtifactError(f"{path} does not load ({problem}): {_fix(model, Path(artifacts))}")
    return program


def _quantized_program(path: Path):
    from tinyzoo.common.quantize import load_quantized_program
    return load_quantized_program(path)


def _index_entries(name: str) -> dict | None:
    index = hub.load_index(missing_ok=True).get("models", {})
    if name not in index:
        return None
    entries = {e["path"]: e for e in index[name]["files"].values()}
    for info in index[name]["targets"].values():
        entries.update({e["path"]: e for e in info["files"].values()})    # paths start with the target
    return entries


def _check_against_index(model, path: Path, rel: str, entry: dict) -> None:
    if not path.is_file():
        why = "is missing"
    elif path.stat().st_size != entry["size"]:
        why = f"has {path.stat().st_size} bytes instead of {entry['size']} (truncated or replaced)"
    elif hub.sha256_of(path) != entry["sha256"]:
        why = "does not match its SHA-256 in zoo/index.json (corrupt or replaced)"
    else:
        return
    target = rel.split("/")[0] if "/" in rel else None
    pull = f"tinyzoo pull {model.name}" + (f" --target {target}" if target else "")
    raise ArtifactError(f"published artifact {path} {why}: restore it (`git checkout -- "
                        f"{_repo_relative(path)}`), or use a verified download (`{pull}`) with --artifacts "
                        f"{hub.cache_dir() / model.name}")


def _repo_relative(path: Path) -> str:
    return shown(path)


def _fix(model, folder: Path) -> str:
    return (f"rebuild it (`tinyzoo build {model.name} --build-dir {folder}`), or delete {folder} and pull the "
            f"published artifacts (`tinyzoo pull {model.name}`)")


def _load_problem(model, path: Path, folder: Path) -> str | None:
    """Load what eval will load: the checkpoint into the model its config builds, the int8 program."""
    if path.name == "model_int8.pt2":
        return _load(path, lambda: _quantized_program(path))[1]
    if path.name != "checkpoint.pt":
        return None

    def load_weights():
        import torch

        cfg_path = folder / "config.resolved.yaml"
        net = build_model(load_config(cfg_path) if cfg_path.exists() else model.config)
        state = torch.load(str(path), map_location="cpu", weights_only=False)
        net.load_state_dict(state["model"] if isinstance(state, dict) and "model" in state else state)
    return _load(path, load_weights)[1]


def _load(path: Path, loader):
    """(what loader() returns, None), or (None, why it failed in one line); torch.export's own logging of the
    loader's traceback is silenced."""
    import logging

    quiet = logging.getLogger("torch.export")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return loader(), None
    except Exception as err:   # noqa: BLE001 — whatever the loader raises, the file is what is wrong
        return None, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}".strip()
    finally:
        quiet.setLevel(level)


def _check_intact(model, path: Path, folder: Path) -> None:
    fix = _fix(model, folder)
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: {fix}")
    if path.stat().st_size == 0:
        raise ArtifactError(f"{path} is empty: {fix}")
    problem = _content_problem(path)
    if problem:
        raise ArtifactError(f"{path} is damaged ({problem}): {fix}")


def _content_problem(path: Path) -> str | None:
    name = path.name
    if name.endswith((".pt", ".pt2")):
        return _zip_problem(path)
    if name.endswith(".json"):
        try:
            json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            return f"not valid JSON: {err}"
        return None
    if name.endswith(".yaml"):
        try:
            problems = config_problems(load_config(path))
        except TinyzooError as err:
            return str(err)
        return f"invalid config: {'; '.join(problems)}" if problems else None
    if name.endswith(".pte"):
        head = path.read_bytes()[:8]
        return None if len(head) == 8 and head[4:8] == b"ET12" else "not an ExecuTorch program (no ET12 identifier)"
    if name.endswith(".tosa"):
        return tosa_problem(path.read_bytes())
    return None


def _zip_problem(path: Path) -> str | None:
    """torch.save / torch.export.save write zip archives (without a comment). The file must end with the
    archive's end record — a truncated .pt2 can otherwise look like the zip nested inside it — and every member
    must pass its CRC check."""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 22))
        tail = f.read()
    if not tail.startswith(b"PK\x05\x06"):
        return "not a complete torch archive: it does not end with a zip end record (truncated?)"
    try:
        with zipfile.ZipFile(path) as archive:
            if min((i.header_offset for i in archive.infolist()), default=1) != 0:
                return "not a complete torch archive: its first member is missing"
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return f"not a complete torch archive: {err}"
    return f"not a complete torch archive: {bad} fails its CRC check" if bad else None


def tosa_problem(buf: bytes) -> str | None:
    """Why `buf` is not a complete TOSA flatbuffer, or None. Walks every table and vector the reference model
    reads, with bounds checks, so that a truncated or damaged graph never reaches it (it would crash)."""
    if len(buf) < 16 or buf[4:8] != b"TOSA":
        return "not a TOSA flatbuffer (no TOSA identifier)"
    from tosa.TosaGraph import TosaGraph

    size = len(buf)

    def inside(table) -> None:
        pos = table._tab.Pos
        if not 0 <= pos < size:
            raise IndexError(f"table at {pos} outside the {size}-byte file")
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        if not 0 <= vtable <= size - 4 or vtable + struct.unpack_from("<H", buf, vtable)[0] > size:
            raise IndexError(f"vtable of the table at {pos} outside the file")

    def name(table) -> bytes | None:
        """The table's name (field 0 of every named TOSA table), its bytes checked to lie inside the file."""
        inside(table)
        o = table._tab.Offset(4)
        if o:
            at = table._tab.Pos + o
            start = at + struct.unpack_from("<I", buf, at)[0]
            if start + 4 + struct.unpack_from("<I", buf, start)[0] > size:
                raise IndexError("a name runs past the end of the file")
        return table.Name()

    def vector(table, length: int, numpy_fn) -> None:
        if length and len(numpy_fn()) != length:
            raise IndexError("a vector runs past the end of the file")

    try:
        graph = TosaGraph.GetRootAs(buf, 0)
        inside(graph)
        if graph.RegionsLength() == 0:
            return "the graph has no regions"
        for r in range(graph.RegionsLength()):
            region = graph.Regions(r)
            name(region)
            for b in range(region.BlocksLength()):
                block = region.Blocks(b)
                name(block)
                names = set()
                for i in range(block.TensorsLength()):
                    tensor = block.Tensors(i)
                    names.add(name(tensor))
                    vector(tensor, tensor.ShapeLength(), tensor.ShapeAsNumpy)
                    vector(tensor, tensor.DataLength(), tensor.DataAsNumpy)
                for i in range(block.ShapesLength()):
                    names.add(name(block.Shapes(i)))
                for i in range(block.OperatorsLength()):
                    op = block.Operators(i)
                    inside(op)
                    op.Op()
                    used = [op.Inputs(j) for j in range(op.InputsLength())] + \
                           [op.Outputs(j) for j in range(op.OutputsLength())]
                    undefined = [n for n in used if n not in names]
                    if undefined:
                        return f"operator {i} uses undefined tensor {undefined[0]!r}"
                for j in range(block.InputsLength()):
                    if block.Inputs(j) not in names:
                        return f"graph input {block.Inputs(j)!r} is not a tensor"
    except (IndexError, struct.error, ValueError, UnicodeDecodeError, TypeError) as err:
        return f"truncated or corrupt TOSA flatbuffer: {err}"
    return None
