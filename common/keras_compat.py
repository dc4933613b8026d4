"""Keras models in PyTorch: TensorFlow's 'same' padding as a stock convolution, and the weights of a Keras `.h5`
file mapped onto an equivalent torch module (used by `scripts/convert_mlperf.py` for MLPerf Tiny's reference
models; h5py is needed only here).

The mapping pairs each weighted Keras layer (Conv2D, DepthwiseConv2D, Dense) with the torch layer at the same
position (Conv2d, Linear, in registration order) and each Keras BatchNormalization with the torch BatchNorm2d/1d
that follows that layer. Two differences are absorbed exactly, so the torch architecture stays the usual one:
a Keras bias before batch norm (torch convolutions before batch norm have none) moves into the running mean,
and Keras' epsilon (1e-3) into the running variance (torch's default is 1e-5).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tinyzoo.common.errors import TinyzooError
from torch import nn
from torch.nn import functional as F


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding along one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """nn.Conv2d with TensorFlow's 'same' padding (as timm's Conv2dSame): for a stride-2 layer on an even input
    the extra row and column of zeros go at the bottom and right only, where `padding=k // 2` would pad both
    sides and shift every output by one pixel. Its parameters are nn.Conv2d's."""

    def __init__(self, *args, **kwargs):
        kwargs["padding"] = 0
        super().__init__(*args, **kwargs)

    def forward(self, x):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = same_padding(x.shape[-2], kh, sh)
        left, right = same_padding(x.shape[-1], kw, sw)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def conv2d(cin: int, cout: int, kernel, stride=1, *, groups: int = 1, bias: bool = False, tf_padding: bool = False,
           padding=None) -> nn.Conv2d:
    """A convolution with 'same' output size: PyTorch's symmetric `padding` (kernel // 2 unless given), or with
    `tf_padding` TensorFlow's (Conv2dSame), for weights trained in Keras."""
    kernels = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    if tf_padding and (stride != 1 or any(k % 2 == 0 for k in kernels)):   # else TF's 'same' is symmetric
        return Conv2dSame(cin, cout, kernel, stride, groups=groups, bias=bias)
    if padding is None:
        padding = tuple(k // 2 for k in kernels)
    return nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=bias)


# --- weights from a Keras .h5 --------------------------------------------------------------------------------

WEIGHTED = ("Conv2D", "DepthwiseConv2D", "Dense")


@dataclass
class KerasLayer:
    name: str
    kind: str                       # Keras class name
    config: dict
    weights: dict[str, np.ndarray] = field(default_factory=dict)   # kernel, bias, gamma, beta, moving_mean, ...
    inbound: list[str] = field(default_factory=list)


def read_h5(path: str | Path) -> list[KerasLayer]:
    """The layers of a Keras (2.x, TF backend) `.h5` model in the order of its config, with their weights."""
    try:
        import h5py
    except ImportError:
        raise TinyzooError("reading a Keras .h5 needs h5py: pip install -e \".[reference]\"") from None

    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise TinyzooError(f"{path} is not a readable HDF5 file ({err})") from None
    with h5:
        if "model_config" not in h5.attrs or "model_weights" not in h5:
            raise TinyzooError(f"{path} is not a Keras model file (no model_config / model_weights)")
        config = json.loads(h5.attrs["model_config"])
        layers = []
        for entry in config["config"]["layers"]:
            name = entry["config"]["name"]
            inbound = [node[0] for group in entry.get("inbound_nodes", []) for node in group]
            layer = KerasLayer(name, entry["class_name"], entry["config"], inbound=inbound)
            group = h5["model_weights"].get(name)
            if group is not None:
                for weight_name in group.attrs.get("weight_names", []):
                    weight_name = weight_name.decode() if isinstance(weight_name, bytes) else weight_name
                    short = weight_name.split("/")[-1].split(":")[0]
                    layer.weights[short] = np.asarray(group[weight_name])
            layers.append(layer)
    return layers


def read_savedmodel_variables(arrays: dict[str, np.ndarray], epsilon: float = 1e-3) -> list[KerasLayer]:
    """The layers of a Keras model saved as a TensorFlow SavedModel, from its checkpoint's variables
    (`layer_with_weights-<i>/<weight>/.ATTRIBUTES/VARIABLE_VALUE`, as `tf.train.load_checkpoint` lists them), in
    layer order. A SavedModel keeps no layer names or configs there: the kind of each layer is read from its
    weights (depthwise_kernel, a 4-D or 2-D kernel, gamma/moving_mean), a batch norm follows the weighted layer
    before it, and its epsilon is `epsilon` (Keras' default)."""
    layers: dict[int, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        parts = key.split("/")   # the weight itself; not an optimizer's slot (<weight>/.OPTIMIZER_SLOT/...)
        if parts[0].startswith("layer_with_weights-") and parts[2:] == [".ATTRIBUTES", "VARIABLE_VALUE"]:
            layers.setdefault(int(parts[0].rsplit("-", 1)[1]), {})[parts[1]] = np.asarray(value)
    out: list[KerasLayer] = []
    for index in sorted(layers):
        weights = layers[index]
        name = f"layer_with_weights-{index}"
        if "depthwise_kernel" in weights:
            kind = "DepthwiseConv2D"
        elif "kernel" in weights:
            kind = "Conv2D" if weights["kernel"].ndim == 4 else "Dense"
        elif "moving_mean" in weights:
            kind = "BatchNormalization"
        else:
            raise TinyzooError(f"{name}: weights {sorted(weights)} are not a layer this mapping knows")
        inbound = [out[-1].name] if out and kind == "BatchNormalization" else []
        config = {"epsilon": epsilon} if kind == "BatchNormalization" else {}
        out.append(KerasLayer(name, kind, config, weights, inbound))
    return out


def _torch_units(model: nn.Module) -> list[list[nn.Module]]:
    """[weighted layer, its batch norm or nothing] in registration order."""
    units: list[list[nn.Module]] = []
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            units.append([module])
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            if not units or len(units[-1]) != 1:
                raise TinyzooError(f"batch norm {module} does not follow a convolution or linear layer")
            units[-1].append(module)
    return units


def _keras_units(layers: list[KerasLayer]) -> list[list[KerasLayer]]:
    weighted = [layer for layer in layers if layer.kind in WEIGHTED]
    norms = {layer.inbound[0]: layer for layer in layers if layer.kind == "BatchNormalization"}
    unknown = [layer for layer in layers if layer.kind == "BatchNormalization" and layer.inbound[0] not in
               {w.name for w in weighted}]
    if unknown:
        raise TinyzooError(f"Keras batch norm {unknown[0].name} does not follow a weighted layer")
    return [[w] + ([norms[w.name]] if w.name in norms else []) for w in weighted]


def _kernel(layer: KerasLayer) -> np.ndarray:
    kernel = layer.weights["kernel" if layer.kind != "DepthwiseConv2D" else "depthwise_kernel"]
    if layer.kind == "Conv2D":           # (kh, kw, in, out) -> (out, in, kh, kw)
        return kernel.transpose(3, 2, 0, 1)
    if layer.kind == "DepthwiseConv2D":  # (kh, kw, C, multiplier) -> (C * multiplier, 1, kh, kw)
        kh, kw, c, m = kernel.shape
        return kernel.reshape(kh, kw, c * m, 1).transpose(2, 3, 0, 1)
    return kernel.T                      # Dense (in, out) -> (out, in)


def keras_state_dict(layers: list[KerasLayer], model: nn.Module, *, output_order: list[int] | None = None) -> dict:
    """The state dict of `model` holding the Keras layers' weights (see the module's docstring for the mapping).
    `output_order[i]` is the Keras output row that becomes the torch model's output i (a different label order).
    A layer count, kind or shape that does not match is a TinyzooError naming both layers."""
    keras, ours = _keras_units(layers), _torch_units(model)
    if len(keras) != len(ours):
        raise TinyzooError(f"the Keras model has {len(keras)} weighted layers, the torch model {len(ours)}")
    names = {module: name for name, module in model.named_modules()}
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def put(module, key, value):
        target = state[f"{names[module]}.{key}"]
        value = torch.as_tensor(np.ascontiguousarray(value), dtype=target.dtype)
        if value.shape != target.shape:
            raise TinyzooError(f"{names[module]}.{key}: Keras gives {tuple(value.shape)}, the torch layer has "
                               f"{tuple(target.shape)}")
        state[f"{names[module]}.{key}"] = value

    for index, ((k_layer, *k_norm), (t_layer, *t_norm)) in enumerate(zip(keras, ours)):
        where = f"Keras {k_layer.name} ({k_layer.kind}) -> torch {names[t_layer]} ({type(t_layer).__name__})"
        if (k_layer.kind == "Dense") != isinstance(t_layer, nn.Linear) or bool(k_norm) != bool(t_norm):
            raise TinyzooError(f"layer {index} does not match: {where}"
                               + (", batch norm on one side only" if bool(k_norm) != bool(t_norm) else ""))
        kernel = _kernel(k_layer)
        bias = k_layer.weights.get("bias")
        last = index == len(keras) - 1
        if last and output_order is not None:
            kernel = kernel[output_order]
            bias = bias[output_order] if bias is not None else None
        put(t_layer, "weight", kernel)
        if t_layer.bias is not None:
            put(t_layer, "bias", bias if bias is not None else np.zeros(kernel.shape[0], np.float32))
        if k_norm:
            norm, t_bn = k_norm[0], t_norm[0]
            mean = norm.weights["moving_mean"] - (bias if bias is not None and t_layer.bias is None else 0.0)
            variance = norm.weights["moving_variance"] + float(norm.config.get("epsilon", 1e-3)) - t_bn.eps
            put(t_bn, "weight", norm.weights.get("gamma", np.ones_like(mean)))
            put(t_bn, "bias", norm.weights.get("beta", np.zeros_like(mean)))
            put(t_bn, "running_mean", mean)
            put(t_bn, "running_var", variance)
        elif bias is not None and t_layer.bias is None:
            raise TinyzooError(f"{where}: the Keras layer has a bias and the torch layer none (and no batch norm "
                               f"to carry it)")
    return state
