"""tinyzoo's catalogue and deployment: `zoo.list_models()`, `zoo.get(name)`, `zoo.pull(name, target=...)`, and
`zoo.deploy(model, example_inputs, targets=[...], out_dir=...)` for your own nn.Module."""
from zoo.hub import pull
from zoo.registry import Model, get, list_models

__all__ = ["Model", "deploy", "get", "list_models", "pull"]


def deploy(model, example_inputs, **options) -> dict:
    """Your own nn.Module onto Ethos-U with no recipe: `common.deploy.deploy_model` (options: targets, out_dir,
    calibration, eval_inputs, scheme, npu_only, name). Returns the metrics it writes to `<out_dir>/metrics.json`."""
    from common.deploy import deploy_model

    return deploy_model(model, example_inputs, **options)
