"""Recipe configuration: one YAML file per recipe, resolved and recorded into every build and card."""
from __future__ import annotations

import copy
import datetime as _dt
import importlib
import importlib.metadata
from pathlib import Path
from typing import Any

import yaml

from common.errors import TinyzooError

TOOL_PACKAGES = {
    "torch": "torch",
    "torchaudio": "torchaudio",
    "torchvision": "torchvision",
    "executorch": "executorch",
    "torchao": "torchao",
    "vela": "ethos-u-vela",
    "tosa_tools": "tosa-tools",
}


def load_config(path: str | Path) -> dict:
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise TinyzooError(f"config file not found: {path}") from None
    except yaml.YAMLError as err:
        raise TinyzooError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(cfg, dict):
        raise TinyzooError(f"config file {path} must hold a mapping at the top level")
    return cfg


def apply_overrides(cfg: dict, overrides: list[str] | None) -> dict:
    """Return a copy of cfg with `section.key=value` overrides applied (values parsed as YAML)."""
    cfg = copy.deepcopy(cfg)
    for item in overrides or []:
        if "=" not in item:
            raise TinyzooError(f"override {item!r} must look like section.key=value, e.g. train.epochs=5")
        dotted, raw = item.split("=", 1)
        keys = dotted.split(".")
        node = cfg
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                raise TinyzooError(f"override {item!r}: {key!r} is not a section of the config")
            node = node[key]
        if keys[-1] not in node:
            raise TinyzooError(
                f"override {item!r}: no key {keys[-1]!r} in section {'.'.join(keys[:-1]) or 'top level'} "
                f"(it has: {', '.join(sorted(node))})")
        node[keys[-1]] = yaml.safe_load(raw)
    return cfg


def tool_versions() -> dict[str, str]:
    versions = {}
    for name, dist in TOOL_PACKAGES.items():
        try:
            versions[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def resolved(cfg: dict, **extra: Any) -> dict:
    """The config as it was run: the recipe file, overrides applied, plus tool versions and the date."""
    out = copy.deepcopy(cfg)
    out["run"] = {"tools": tool_versions(), "date": _dt.date.today().isoformat(), **extra}
    return out


def save_yaml(data: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(path)
    return path


def import_object(spec: str):
    """'package.module:attribute' -> the attribute."""
    module, _, attr = spec.partition(":")
    if not attr:
        raise TinyzooError(f"{spec!r} must look like 'package.module:function'")
    return getattr(importlib.import_module(module), attr)


def build_model(cfg: dict):
    """Instantiate the model the config's `model` section names."""
    return import_object(cfg["model"]["builder"])(**cfg["model"].get("args", {}))
