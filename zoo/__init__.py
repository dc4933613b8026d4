"""tinyzoo: PyTorch models on Arm Ethos-U NPUs through ExecuTorch.

The published models as torchvision users know them — `list_models()`, `get_weights(name)` (`meta`,
`transforms()`), `load(name, int8=False)`, `pull(name, target)` — and `deploy(model, example_inputs,
targets=[...], out_dir=...)` for your own nn.Module. `get(name)` is a model's catalogue entry (recipe, config)."""
from tinyzoo.models import Pulled, Weights, get_weights, list_models, list_weights, load, pull
from tinyzoo.registry import Model, get

__all__ = ["Model", "Pulled", "Weights", "deploy", "get", "get_weights", "list_models", "list_weights", "load", "pull"]


def deploy(model, example_inputs, **options) -> dict:
    """Your own nn.Module onto Ethos-U with no recipe: `tinyzoo.common.deploy.deploy_model` (options: targets,
    out_dir, calibration, eval_inputs, scheme, npu_only, input_layout, name). Returns the metrics it writes to
    `<out_dir>/metrics.json`."""
    from tinyzoo.common.deploy import deploy_model

    return deploy_model(model, example_inputs, **options)
