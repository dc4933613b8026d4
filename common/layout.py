"""Where things are. The package's own folders are found the same way in a clone and in an installed tinyzoo
(`recipes/`, the catalogue in `zoo/artifacts/`, the bundled data); the checkout's folders (cards/, README.md,
docs/, build/) exist only in a clone, `REPO` is None elsewhere. And what a build publishes (zoo/artifacts/
<task>/<model>/, the Hub repos, the index): one list, read by the pipeline that writes the files and by the hub
code that indexes and downloads them."""
import importlib.util
import os
from pathlib import Path

from tinyzoo.common.errors import DatasetNotFoundError, TinyzooError

_ROOT = Path(__file__).resolve().parent.parent   # a clone: the repository; installed: site-packages/tinyzoo
ZOO = Path(importlib.util.find_spec("tinyzoo").origin).resolve().parent   # the tinyzoo package: zoo/ in a clone
RECIPES = _ROOT / "recipes"
ARTIFACTS = ZOO / "artifacts"
BUNDLED_DATA = ZOO / "data"
REPO = _ROOT if (_ROOT / "pyproject.toml").is_file() and (_ROOT / "zoo").is_dir() else None   # the checkout
CARDS = REPO / "cards" if REPO else None
# config `reference`: another tool's int8 model of the same network, beside --weights
REFERENCE_FILE = "reference.tflite"


def split_name(name: str) -> tuple[str, str | None]:
    """A catalogue name → (recipe, weights tag): "vision/resnet8_cifar10.mlperf" → ("vision/resnet8_cifar10",
    "mlperf"), as timm names a model's pretrained weights `<model>.<tag>`. A recipe's own weights have no tag."""
    recipe, _, tag = name.partition(".")
    return recipe, tag or None


def weights_file(recipe_dir: Path, tag: str | None, file: str) -> Path:
    """A recipe file of one set of its weights: `<recipe>/<file>` for the recipe's own; for another set
    `weights/<tag>.yaml` (its config overlay, for config.yaml), `weights/<tag>.md` (its card prose, for card.md)
    or `weights/<tag>.<file>` (e.g. its calibration.txt)."""
    if tag is None:
        return Path(recipe_dir) / file
    name = {"config.yaml": f"{tag}.yaml", "card.md": f"{tag}.md"}.get(file, f"{tag}.{file}")
    return Path(recipe_dir) / "weights" / name


def checkout(what: str) -> Path:
    """The repository root, for what only a clone has (`what`: e.g. "publishing a card")."""
    if REPO is None:
        raise TinyzooError(f"{what} needs a clone of the tinyzoo repository (git clone, then scripts/setup.sh); "
                           f"this tinyzoo is installed at {ZOO}")
    return REPO


def shown(path: Path) -> str:
    """A path as a card or message shows it: relative to the checkout when inside it."""
    path = Path(path).resolve()
    return path.relative_to(REPO).as_posix() if REPO and path.is_relative_to(REPO) else str(path)


MODEL_FILES = ("checkpoint.pt", "model_int8.pt2", "config.resolved.yaml", "calibration.txt", "metrics.json",
               "reference_input.bin",
               # another tool's int8 model of the network (config `reference`)
               "reference.tflite",
               "tokenizer.model", "embedding_int8.bin")   # language models: tokenizer and int8 embedding table
TARGET_FILES = ("model.pte", "model.bpte", "model.tosa", "reference_output.bin")
PROGRAM_TARGET_FILES = ("model.pte", "model.bpte")   # + reference_output*.bin (its TOSA graph: `tinyzoo export`)
# + model_int8.pt2, reference_input*.bin (the LM's decode step)
PROGRAM_FILES = ("embedding_int8.bin", "rotary_int8.bin")


def model_files(folder: Path) -> list[str]:
    """What a build or published folder holds of the model (outside its target folders): MODEL_FILES, and for each
    further program the model exports (`<program>/model_int8.pt2`: a language model's KV-cache decode step) its
    fake-quant program, reference inputs and the tables its app reads (PROGRAM_FILES)."""
    folder = Path(folder)
    files = [f for f in MODEL_FILES if (folder / f).is_file()]
    for program in sorted(p.parent for p in folder.glob("*/model_int8.pt2")):
        files += [f"{program.name}/model_int8.pt2"] + sorted(f"{program.name}/{p.name}"
                                                             for p in program.glob("reference_input*.bin"))
        files += [f"{program.name}/{f}" for f in PROGRAM_FILES if (program / f).is_file()]
    return files


def target_files(target_dir: Path) -> list[str]:
    """What a target's folder holds of the model: TARGET_FILES, and per further program (`<program>/model.pte`)
    its .pte, BundleIO program and reference outputs."""
    target_dir = Path(target_dir)
    files = [f for f in TARGET_FILES if (target_dir / f).is_file()]
    for program in sorted(p.parent for p in target_dir.glob("*/model.pte")):
        files += [f"{program.name}/{f}" for f in PROGRAM_TARGET_FILES if (program / f).is_file()]
        files += sorted(f"{program.name}/{p.name}" for p in program.glob("reference_output*.bin"))
    return files


def data_root(root: str | Path | None, hint: str) -> Path:
    """The data root a build or evaluation reads: the one given, else $TINYZOO_DATA; `hint` says what the folder
    must hold when there is neither."""
    if root is not None:
        return Path(root)
    if os.environ.get("TINYZOO_DATA"):
        return Path(os.environ["TINYZOO_DATA"])
    raise DatasetNotFoundError(f"no data root: pass --data-root DIR or set TINYZOO_DATA ({hint})")
