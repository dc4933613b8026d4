"""tinyzoo as one installable package: `pip install .` (a wheel, not editable) puts only `tinyzoo` into
site-packages, with the catalogue inside it, so a user outside the clone lists, loads and pulls the published
models."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


def test_pyproject_names_every_package_folder():
    """The explicit package list (zoo/ as tinyzoo, common/ and recipes/ mapped in) misses no folder of modules."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {prefix: REPO / folder for prefix, folder in project["package-dir"].items()}
    found = set()
    for prefix, root in roots.items():
        for module in root.rglob("*.py"):
            if "__pycache__" in module.parts or "artifacts" in module.relative_to(root).parts:
                continue
            found.add(".".join([prefix, *module.parent.relative_to(root).parts]))
    assert found == set(project["packages"])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, cwd=out)
    return next(out.glob("tinyzoo-*.whl"))


def test_the_wheel_holds_only_tinyzoo_with_its_catalogue(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"tinyzoo"}
    for needed in ("tinyzoo/index.json", "tinyzoo/artifacts/kws/ds_cnn/metrics.json", "tinyzoo/cli.py",
                   "tinyzoo/common/pipeline.py", "tinyzoo/recipes/kws/ds_cnn/config.yaml",
                   "tinyzoo/recipes/kws/ds_cnn/model.py", "tinyzoo/common/firmware/frontend/tz_mfcc.h"):
        assert needed in names, needed
    heavy = [n for n in names if n.endswith((".pte", ".bpte", ".pt", ".pt2", ".tosa"))]
    assert heavy == []    # model files come from the Hub, a mirror or the cache, not the wheel


def test_installed_outside_the_clone_lists_loads_and_pulls(wheel, tmp_path):
    """A fresh environment with the wheel installed (its dependencies from this one), run from another folder:
    `tinyzoo list` shows the six published models; `tinyzoo.load` runs on `get_weights().transforms()` of a
    waveform; `pull` fetches a .pte from a mirror, SHA-256 checked."""
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies (torch, executorch, ...) from this environment, as a plain path: its .pth files (this
    # checkout's editable tinyzoo) are not run
    (site / "dependencies.pth").write_text("".join(f"{p}\n" for p in sys.path if p.endswith("site-packages")))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True)
    top_level = {p.name for p in site.iterdir()
                 if not p.name.endswith((".dist-info", ".pth")) and p.name != "__pycache__"}
    assert top_level == {"tinyzoo"}

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "TINYZOO_CACHE": str(tmp_path / "cache"), "TINYZOO_MIRROR": str(REPO / "zoo" / "artifacts"),
           "PYTHONPATH": ""}
    listed = subprocess.run([env_dir / "bin" / "tinyzoo", "list"], cwd=work, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    published = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()
                 and "not published" not in line]
    assert set(published) >= {"kws/ds_cnn", "kws/kwt", "vision/resnet8_cifar10", "vision/mobilenet_vww",
                              "vision/vit_tiny_cifar10", "text/tiny_lm"}
    script = """
import json, math, torch, tinyzoo
assert tinyzoo.__file__.startswith(%r), tinyzoo.__file__
weights = tinyzoo.get_weights("kws/ds_cnn")
wave = 0.1 * torch.sin(2 * math.pi * 440 * torch.arange(16000) / 16000)
scores = tinyzoo.load("kws/ds_cnn")(weights.transforms()(wave))
import os, pathlib
loaded = sorted(p.name for p in pathlib.Path(os.environ["TINYZOO_CACHE"]).rglob("*") if p.is_file())
pulled = tinyzoo.pull("kws/ds_cnn", "ethos-u55-128")
print(json.dumps({"shape": list(scores.shape), "categories": weights.meta["categories"], "loaded": loaded,
                  "pte": str(pulled.pte), "pte_bytes": pulled.pte.stat().st_size}))
""" % str(site)
    run = subprocess.run([python, "-c", script], cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["shape"] == [1, 12] and out["categories"][2] == "yes"
    assert out["loaded"] == ["checkpoint.pt"]   # load fetches only what it uses (not calibration.txt)
    assert out["pte"].startswith(str(tmp_path / "cache"))
    assert out["pte_bytes"] == (REPO / "zoo/artifacts/kws/ds_cnn/ethos-u55-128/model.pte").stat().st_size
