"""tinyzoo: PyTorch models on Arm Ethos-U NPUs through ExecuTorch.

The published models as torchvision users know them — `list_models()`, `get_weights(name)` (`meta`,
`transforms()`), `load(name, int8=False)`, `pull(name, target)` — and `deploy(model, example_inputs,
targets=[...], out_dir=...)` for your own nn.Module (`tinyzoo.common.deploy.deploy_model`: options targets,
out_dir, calibration, eval_inputs, scheme, npu_only, input_layout, name; it returns the metrics it writes to
`<out_dir>/metrics.json`). `get(name)` is a model's catalogue entry (recipe, config).

The names load on first use (PEP 562), so that importing one module of the package (`tinyzoo.common.errors`, a
recipe's model) does not load the catalogue or the chain."""
import importlib

_EXPORTS = {
    "Model": ("tinyzoo.registry", "Model"), "get": ("tinyzoo.registry", "get"),
    "Pulled": ("tinyzoo.models", "Pulled"), "Weights": ("tinyzoo.models", "Weights"),
    "get_weights": ("tinyzoo.models", "get_weights"), "list_models": ("tinyzoo.models", "list_models"),
    "list_weights": ("tinyzoo.registry", "list_weights"), "load": ("tinyzoo.models", "load"),
    "pull": ("tinyzoo.models", "pull"), "deploy": ("tinyzoo.common.deploy", "deploy_model"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tinyzoo' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
