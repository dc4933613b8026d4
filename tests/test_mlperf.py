"""MLPerf Tiny's reference models in the zoo: Keras weights mapped onto the PyTorch models (on a small Keras-style
.h5 the test writes), TensorFlow's 'same' padding, the chain's Arm passes and NHWC inputs (a PAD, a ReLU after a
convolution and the NCHW transposes cost no NPU cycles, and the integer graph stays the fake-quant model), the
weights variants in the catalogue, and the side-by-side figures and card section."""
import json

import numpy as np
import pytest
import torch
from tinyzoo.common.errors import ConfigError, TinyzooError
from tinyzoo.common.keras_compat import (
    Conv2dSame,
    keras_state_dict,
    read_h5,
    same_padding,
)
from torch import nn
from torch.nn import functional as F

# --- TensorFlow's 'same' padding ----------------------------------------------------------------------------

def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding(96, 3, 2) == (0, 1)       # stride 2, even input: bottom/right only
    assert same_padding(49, 10, 2) == (4, 5)      # MLPerf KWS's first convolution, along time
    assert same_padding(10, 4, 2) == (1, 1)
    assert same_padding(32, 3, 1) == (1, 1)       # stride 1, odd kernel: symmetric
    assert same_padding(8, 1, 2) == (0, 0)        # 1x1 stride 2: no padding


@pytest.mark.parametrize("size,kernel,stride", [((96, 96), 3, 2), ((49, 10), (10, 4), 2), ((25, 5), 3, 1)])
def test_conv2d_same_is_a_convolution_of_the_tf_padded_input(size, kernel, stride):
    torch.manual_seed(0)
    conv = Conv2dSame(3, 4, kernel, stride).eval()
    x = torch.randn(1, 3, *size)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    top, bottom = same_padding(size[0], kh, stride)
    left, right = same_padding(size[1], kw, stride)
    expected = F.conv2d(F.pad(x, (left, right, top, bottom)), conv.weight, conv.bias, stride)
    out = conv(x)
    assert out.shape[-2:] == (-(-size[0] // stride), -(-size[1] // stride))
    assert torch.equal(out, expected)
    assert set(conv.state_dict()) == {"weight", "bias"}   # nn.Conv2d's parameters: weights load as usual


# --- Keras .h5 weights ------------------------------------------------------------------------------------------

def write_keras_h5(path, layers):
    """A Keras-2.x-style .h5 (model_config JSON + model_weights/<layer>/<layer>/<weight>:0) of `layers`:
    [(class, name, config, {weight: array}, inbound)]."""
    import h5py

    config = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": kind, "config": {"name": name, **cfg}, "name": name,
         "inbound_nodes": [[[i, 0, 0, {}] for i in inbound]] if inbound else []}
        for kind, name, cfg, _, inbound in layers]}}
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config)
        h5.attrs["keras_version"] = "2.4.0"
        weights = h5.create_group("model_weights")
        for _, name, _, arrays, _ in layers:
            group = weights.create_group(name)
            group.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w in arrays]
            for w, value in arrays.items():
                group.create_dataset(f"{name}/{w}:0", data=value.astype(np.float32))


class Small(nn.Module):
    """Conv (no bias) + BN + ReLU, depthwise (no bias) + BN + ReLU, global average pooling, linear: the shape of
    the MLPerf models, written as a PyTorch user writes it."""

    def __init__(self):
        super().__init__()
        self.conv = Conv2dSame(2, 4, 3, 2, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 4, 3, 1, 1, groups=4, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv(x)))
        x = torch.relu(self.bn2(self.dw(x)))
        return self.fc(x.mean((2, 3)))


def keras_forward(x_nhwc, w):
    """The Keras model the .h5 describes, computed directly from its NHWC weights (the test's reference)."""
    def bn(y, p):
        return p["gamma"] * (y - p["moving_mean"]) / np.sqrt(p["moving_variance"] + 1e-3) + p["beta"]

    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)
    k = torch.from_numpy(w["conv"]["kernel"]).permute(3, 2, 0, 1)
    y = F.conv2d(F.pad(x, (0, 1, 0, 1)), k, torch.from_numpy(w["conv"]["bias"]), 2).permute(0, 2, 3, 1).numpy()
    y = np.maximum(bn(y, w["bn1"]), 0)
    d = torch.from_numpy(w["dw"]["depthwise_kernel"]).permute(2, 3, 0, 1)
    y = F.conv2d(torch.from_numpy(y).permute(0, 3, 1, 2), d, torch.from_numpy(w["dw"]["bias"]), 1, 1, groups=4)
    y = np.maximum(bn(y.permute(0, 2, 3, 1).numpy(), w["bn2"]), 0)
    return y.mean((1, 2)) @ w["fc"]["kernel"] + w["fc"]["bias"]


def assert_keras_outputs(layers, weights, x_nhwc) -> np.ndarray:
    """`Small` holding the Keras layers' weights computes the Keras model's outputs on x; returns them."""
    model = Small().eval()
    model.load_state_dict(keras_state_dict(layers, model))
    with torch.no_grad():
        out = model(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)).numpy()
    assert np.abs(out - keras_forward(x_nhwc, weights)).max() < 1e-4
    return out


@pytest.fixture
def keras_model(tmp_path):
    rng = np.random.default_rng(0)
    bn = lambda: {"gamma": rng.uniform(0.5, 1.5, 4), "beta": rng.normal(0, 0.1, 4),
                  "moving_mean": rng.normal(0, 0.1, 4), "moving_variance": rng.uniform(1e-4, 2e-3, 4)}
    weights = {"conv": {"kernel": rng.normal(0, 0.3, (3, 3, 2, 4)), "bias": rng.normal(0, 0.2, 4)}, "bn1": bn(),
               "dw": {"depthwise_kernel": rng.normal(0, 0.3, (3, 3, 4, 1)), "bias": rng.normal(0, 0.2, 4)}, "bn2": bn(),
               "fc": {"kernel": rng.normal(0, 0.5, (4, 3)), "bias": rng.normal(0, 0.1, 3)}}
    weights = {k: {n: v.astype(np.float32) for n, v in d.items()} for k, d in weights.items()}
    layers = [("InputLayer", "input_1", {}, {}, []),
              ("Conv2D", "conv", {"strides": [2, 2], "padding": "same"}, weights["conv"], ["input_1"]),
              ("BatchNormalization", "bn1", {"epsilon": 1e-3}, weights["bn1"], ["conv"]),
              ("Activation", "relu1", {"activation": "relu"}, {}, ["bn1"]),
              ("DepthwiseConv2D", "dw", {"strides": [1, 1], "padding": "same"}, weights["dw"], ["relu1"]),
              ("BatchNormalization", "bn2", {"epsilon": 1e-3}, weights["bn2"], ["dw"]),
              ("Activation", "relu2", {"activation": "relu"}, {}, ["bn2"]),
              ("GlobalAveragePooling2D", "pool", {}, {}, ["relu2"]),
              ("Dense", "fc", {"units": 3}, weights["fc"], ["pool"])]
    path = tmp_path / "small.h5"
    write_keras_h5(path, layers)
    return path, weights


def test_keras_weights_give_the_keras_models_outputs(keras_model):
    """Biases before batch norm move into its mean, Keras' epsilon into its variance (torch keeps 1e-5): the
    torch model computes the Keras model's outputs (variances near epsilon make a wrong epsilon visible)."""
    path, weights = keras_model
    layers = read_h5(path)
    assert [layer.kind for layer in layers][:3] == ["InputLayer", "Conv2D", "BatchNormalization"]
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 2)).astype(np.float32)
    out = assert_keras_outputs(layers, weights, x)
    reordered = Small().eval()   # a different label order: the last layer's rows follow it
    reordered.load_state_dict(keras_state_dict(layers, reordered, output_order=[2, 0, 1]))
    with torch.no_grad():
        assert torch.allclose(reordered(torch.from_numpy(x).permute(0, 3, 1, 2)), torch.from_numpy(out[:, [2, 0, 1]]))


def test_a_keras_file_of_another_network_is_refused_by_layer(keras_model, tmp_path):
    path, _ = keras_model
    wider = Small()
    wider.fc = nn.Linear(4, 5)
    with pytest.raises(TinyzooError, match=r"fc.weight: Keras gives \(3, 4\), the torch layer has \(5, 4\)"):
        keras_state_dict(read_h5(path), wider)
    fewer = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(TinyzooError, match="3 weighted layers, the torch model 1"):
        keras_state_dict(read_h5(path), fewer)
    (tmp_path / "not.h5").write_bytes(b"no hdf5 here")
    with pytest.raises(TinyzooError, match="not a readable HDF5 file"):
        read_h5(tmp_path / "not.h5")


# --- the catalogue's weights variants -------------------------------------------------------------------------

def test_the_mlperf_weights_are_catalogue_entries_of_their_recipes():
    from tinyzoo import registry

    names = registry.list_models()
    assert {"vision/resnet8_cifar10.mlperf", "vision/mobilenet_vww.mlperf"} <= set(names)
    model = registry.get("vision/resnet8_cifar10.mlperf")
    assert model.recipe_dir == registry.get("vision/resnet8_cifar10").recipe_dir and model.weights == "mlperf"
    cfg, own = model.config, registry.get("vision/resnet8_cifar10").config
    assert cfg["model"]["args"]["tf_padding"] is True and own["model"]["args"].get("tf_padding") is None
    assert cfg["train"]["epochs"] == 0 and cfg["quantize"]["qat"]["enabled"] is False
    assert cfg["export"]["input_layout"] == "NHWC" and cfg["reference"]["quality_target"] == 0.85
    assert cfg["card"]["title"].startswith("ResNet-8 CIFAR-10 (MLPerf Tiny reference weights)")
    assert cfg["data"] == own["data"] and cfg["frontend"]["size"] == own["frontend"]["size"]


def test_no_training_needs_the_weights(tmp_path):
    from tinyzoo.common.pipeline import given_weights

    with pytest.raises(ConfigError, match="train.epochs is 0: the float weights come from --weights"):
        given_weights(Small(), tmp_path / "checkpoint.pt", None)
    torch.save({"model": nn.Linear(2, 2).state_dict(), "source": {"origin": "x"}}, tmp_path / "checkpoint.pt")
    with pytest.raises(ConfigError, match="does not fit this model"):
        given_weights(Small(), tmp_path / "checkpoint.pt", tmp_path / "checkpoint.pt")
    torch.save({"model": Small().state_dict(), "source": {"origin": "x"}}, tmp_path / "checkpoint.pt")
    result, source = given_weights(Small(), tmp_path / "checkpoint.pt", tmp_path / "checkpoint.pt")
    assert result.epochs_run == 0 and source == {"origin": "x"}


# --- the chain's passes and NHWC inputs -----------------------------------------------------------------------

@pytest.mark.lowering
def test_pad_relu_and_layout_cost_no_npu_passes_and_keep_the_int8_model(tmp_path):
    """A TF-padded stride-2 convolution with a ReLU, on an NHWC input: Vela gets no PAD (MemoryCopy), no
    transpose and no separate activation, and the integer TOSA graph equals the fake-quant model."""
    from tinyzoo.common import quantize as q
    from tinyzoo.common import report, verify
    from tinyzoo.common.chain import io_params
    from tinyzoo.common.lower import lower_ethos_u

    torch.manual_seed(0)
    model = nn.Sequential(Conv2dSame(3, 8, 3, 2), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU6()).eval()
    x = torch.randn(1, 3, 16, 16)
    fake_quant = q.quantize_ptq(model, (x,), [torch.randn(16, 3, 16, 16)], target="ethos-u55-128")
    low = lower_ethos_u(fake_quant, (x,), "ethos-u55-128", tmp_path / "u55", input_layout="NHWC")
    passes = [(layer["npu_op"], layer["cycles"]) for layer in report.parse_vela_per_layer(low.vela_dir)]
    # each activation a CLAMP of its own in the TOSA graph, fused by Vela into its convolution (0 cycles)
    assert passes == [("Conv2D", passes[0][1]), ("Clamp", 0), ("Conv2D", passes[2][1]), ("Clamp", 0)], passes
    io = io_params(fake_quant, "NHWC")
    assert io["input"]["layout"] == "NHWC"
    assert verify.quantize(x, io["input"]).shape == (1, 16, 16, 3)   # the bytes the program takes
    every = {"inputs": [io["input"]], "outputs": [io["output"]]}
    fidelity = verify.fidelity(model, fake_quant, (torch.randn(4, 3, 16, 16),), {"ethos-u55-128": low.tosa_path}, every)
    assert fidelity["max_lsb_diff_tosa_fake_quant"]["ethos-u55-128"] == 0


# --- side by side ------------------------------------------------------------------------------------------------

def test_side_by_side_ratios_and_card_section():
    from tinyzoo.common.card import render_card
    from tinyzoo.common.tflite_path import side_by_side

    from tests.test_card import metrics as metrics_fixture  # the card tests' metrics
    from tests.test_card import target

    pte = {**target("ethos-u55-128", 100_000), "weights_bytes_encoded": 24_000}
    lite = {**target("ethos-u55-128", 125_000), "weights_bytes_encoded": 24_032, "flash_kib": 30.0,
            "npu_cycles": 120_000, "tflite_bytes": 54_000, "softmax_cycles": 850}
    row = side_by_side(pte, lite)
    assert row["cycle_ratio"] == 0.8 and row["cycles"] == 125_000 and row["sram_ratio"] == 1.0

    m = metrics_fixture.__wrapped__()
    m["targets"] = {"ethos-u55-128": pte}
    m["accuracy"].update(tosa_int8={"ethos-u55-128": 0.9}, agreement_int8_float={"ethos-u55-128": 0.97},
                         tflite_int8={"int8": 0.88, "agreement_int8_float": 0.95})
    m["tflite"] = {"name": "Reference int8 .tflite", "quality_target": 0.9, "targets": {"ethos-u55-128": row}}
    text = render_card(m)
    assert "## Side by side: ExecuTorch vs Reference int8 .tflite" in text
    assert "| ethos-u55-128 | 100,000 | 125,000 | **0.800** |" in text
    assert "| Reference int8 .tflite (LiteRT, reference kernels) | 88.00 % | 95.00 % |" in text
    assert "scores 90.00 % on these samples (meets it)" in text
    assert "The .tflite ends in a softmax on the NPU (ethos-u55-128: 850 cycles of its total)" in text


def test_savedmodel_variables_give_the_layers_and_skip_optimizer_slots(keras_model):
    """A SavedModel's checkpoint lists each weight once as itself and again per optimizer slot (Adam's m and v):
    only the weights themselves are layers' weights, in layer order, kinds read from their names and shapes."""
    from tinyzoo.common.keras_compat import read_savedmodel_variables

    _, w = keras_model
    arrays = {}
    for i, (layer, weights) in enumerate((("conv", w["conv"]), ("bn1", w["bn1"]), ("dw", w["dw"]), ("bn2", w["bn2"]),
                                          ("fc", w["fc"]))):
        for name, value in weights.items():
            arrays[f"layer_with_weights-{i}/{name}/.ATTRIBUTES/VARIABLE_VALUE"] = value
            arrays[f"layer_with_weights-{i}/{name}/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"] = value * 0
    layers = read_savedmodel_variables(arrays)
    assert [layer.kind for layer in layers] == ["Conv2D", "BatchNormalization", "DepthwiseConv2D",
                                                "BatchNormalization", "Dense"]
    assert_keras_outputs(layers, w, np.random.default_rng(2).normal(size=(1, 8, 8, 2)).astype(np.float32))


def test_minmax_observer_takes_the_calibration_range():
    """`quantize.ptq.observer: minmax` (TFLite's way) quantizes activations over the calibration data's whole
    range, where ExecuTorch's histogram observer may clip an outlier."""
    from tinyzoo.common import quantize as q

    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU()).eval()
    calibration = [torch.cat([torch.randn(63, 4), torch.full((1, 4), 40.0)])]   # one outlier
    ranges = {}
    for observer in ("histogram", "minmax"):
        fake_quant = q.quantize_ptq(model, (torch.randn(1, 4),), calibration, target="ethos-u55-128",
                                    observer=observer)
        ranges[observer] = q.io_quant_params(fake_quant)["input"]["scale"] * 255
    assert ranges["minmax"] == pytest.approx(40.0 + 2.5, abs=2.5) and ranges["histogram"] < ranges["minmax"]
    with pytest.raises(TinyzooError, match="unknown activation observer 'mean'"):
        q.quantize_ptq(model, (torch.randn(1, 4),), calibration, target="ethos-u55-128", observer="mean")


def test_a_recipes_name_gives_its_best_measured_weights():
    """torchvision's DEFAULT weights: `get_weights("kws/ds_cnn")` is the best of the recipe's published weights by
    int8 accuracy as the NPU computes it; a tagged name, or `exact=True`, gives exactly those weights."""
    import tinyzoo

    assert tinyzoo.list_weights("kws/ds_cnn") == ["kws/ds_cnn", "kws/ds_cnn.mlperf"]
    best = tinyzoo.get_weights("kws/ds_cnn")
    accuracy = lambda n: min(tinyzoo.get(n).metrics()["accuracy"]["tosa_int8"].values())
    assert best.name == max(tinyzoo.list_weights("kws/ds_cnn"), key=accuracy)
    assert tinyzoo.get_weights("kws/ds_cnn", exact=True).name == "kws/ds_cnn"
    assert tinyzoo.get_weights("kws/ds_cnn.mlperf").name == "kws/ds_cnn.mlperf"
    assert tinyzoo.get_weights("kws/kwt").name == "kws/kwt"   # one set of weights: itself
    model = tinyzoo.load("vision/resnet8_cifar10")
    assert isinstance(model.stack2.conv1, Conv2dSame) == (tinyzoo.get_weights("vision/resnet8_cifar10").name
                                                          == "vision/resnet8_cifar10.mlperf")


def test_the_list_says_which_weights_a_recipes_name_loads(capsys):
    """A withdrawn model stays withdrawn: the VWW recipe's own weights measure below MLPerf's reference weights,
    so `vision/mobilenet_vww` loads the reference weights and `tinyzoo list` marks them as its default."""
    import tinyzoo
    from tinyzoo import cli

    assert tinyzoo.get_weights("vision/mobilenet_vww").name == "vision/mobilenet_vww.mlperf"
    assert cli.main(["list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["vision/mobilenet_vww.mlperf"].endswith("← the default weights of vision/mobilenet_vww")
    assert "default" not in rows["vision/mobilenet_vww"] and "default" not in rows["kws/kwt"]


@pytest.mark.lowering
def test_a_linear_relu_stack_lowers_whole_with_its_activations_fused(tmp_path):
    """Linear + BatchNorm1d + ReLU (the MLPerf anomaly-detection autoencoder's layers): ExecuTorch's fold of a ReLU
    into a linear layer's output range stays (the chain keeps a ReLU after a convolution only), so the graph
    lowers whole and the integer graph equals the fake-quant model."""
    from tinyzoo.common import quantize as q
    from tinyzoo.common import verify
    from tinyzoo.common.chain import every_io, io_params
    from tinyzoo.common.lower import lower_ethos_u

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(),
                          nn.Linear(8, 64)).eval()
    x = torch.randn(1, 64)
    fake_quant = q.quantize_ptq(model, (x,), [torch.randn(32, 64)], target="ethos-u55-128")
    low = lower_ethos_u(fake_quant, (x,), "ethos-u55-128", tmp_path / "u55")
    assert low.whole
    fidelity = verify.fidelity(model, fake_quant, (torch.randn(8, 64),), {"ethos-u55-128": low.tosa_path},
                               every_io(io_params(fake_quant)))
    assert fidelity["max_lsb_diff_tosa_fake_quant"]["ethos-u55-128"] <= 1


# --- the TFLite path on a .tflite the test writes ------------------------------------------------------------

def write_tflite(path, weight, bias, *, int8=None):
    """A .tflite of FULLY_CONNECTED + SOFTMAX (as MLPerf's classifiers end), written with the `tflite` package's
    flatbuffer schema: float32, or with `int8=(input scale, input zero point, logits scale, logits zero point)`
    TFLite's full-integer form (int8 weights per tensor, int32 bias, softmax output 1/256, -128)."""
    import importlib

    import flatbuffers

    # the schema's modules (the package's attributes of the same names are its classes)
    Buffer, FcOptions, Model, Operator, OperatorCode, Quant, SoftmaxOptions, SubGraph, Tensor = (
        importlib.import_module(f"tflite.{name}") for name in (
            "Buffer", "FullyConnectedOptions", "Model", "Operator", "OperatorCode", "QuantizationParameters",
            "SoftmaxOptions", "SubGraph", "Tensor"))

    FULLY_CONNECTED, SOFTMAX, FLOAT32, INT32, INT8 = 9, 25, 0, 2, 9
    out_features, in_features = weight.shape
    b = flatbuffers.Builder(1024)
    if int8:
        s_in, z_in, s_logits, z_logits = int8
        s_w = float(np.abs(weight).max() / 127)
        weight_data = np.round(weight / s_w).astype(np.int8).tobytes()
        bias_data = np.round(bias / (s_in * s_w)).astype(np.int32).tobytes()
        types = (INT8, INT8, INT32, INT8, INT8)
        quant = [(s_in, z_in), (s_w, 0), (s_in * s_w, 0), (s_logits, z_logits), (1 / 256, -128)]
    else:
        weight_data, bias_data = weight.astype(np.float32).tobytes(), bias.astype(np.float32).tobytes()
        types, quant = (FLOAT32,) * 5, [None] * 5
    shapes = [[1, in_features], [out_features, in_features], [out_features], [1, out_features], [1, out_features]]
    datas = [None, weight_data, bias_data, None, None]

    def vector(start, items, prepend):
        start(b, len(items))
        for item in reversed(items):
            prepend(item)
        return b.EndVector()

    buffers = []
    for data in [None] + datas:   # buffer 0 is the empty one
        data_vector = b.CreateByteVector(data) if data else None
        Buffer.Start(b)
        if data_vector is not None:
            Buffer.AddData(b, data_vector)
        buffers.append(Buffer.End(b))
    tensors = []
    for i, (shape, kind, q) in enumerate(zip(shapes, types, quant)):
        name = b.CreateString(f"t{i}")
        shape_vector = vector(lambda bb, n: Tensor.StartShapeVector(bb, n), shape, b.PrependInt32)
        q_offset = None
        if q is not None:
            scale = vector(lambda bb, n: Quant.StartScaleVector(bb, n), [float(q[0])], b.PrependFloat32)
            zero = vector(lambda bb, n: Quant.StartZeroPointVector(bb, n), [int(q[1])], b.PrependInt64)
            Quant.Start(b)
            Quant.AddScale(b, scale)
            Quant.AddZeroPoint(b, zero)
            q_offset = Quant.End(b)
        Tensor.Start(b)
        Tensor.AddShape(b, shape_vector)
        Tensor.AddType(b, kind)
        Tensor.AddBuffer(b, i + 1 if datas[i] else 0)
        Tensor.AddName(b, name)
        if q_offset is not None:
            Tensor.AddQuantization(b, q_offset)
        tensors.append(Tensor.End(b))
    FcOptions.Start(b)
    fc_options = FcOptions.End(b)
    SoftmaxOptions.Start(b)
    SoftmaxOptions.AddBeta(b, 1.0)
    softmax_options = SoftmaxOptions.End(b)
    operators = []
    for code, inputs, outputs, options_type, options in ((0, [0, 1, 2], [3], 8, fc_options),
                                                         (1, [3], [4], 9, softmax_options)):
        ins = vector(lambda bb, n: Operator.StartInputsVector(bb, n), inputs, b.PrependInt32)
        outs = vector(lambda bb, n: Operator.StartOutputsVector(bb, n), outputs, b.PrependInt32)
        Operator.Start(b)
        Operator.AddOpcodeIndex(b, code)
        Operator.AddInputs(b, ins)
        Operator.AddOutputs(b, outs)
        Operator.AddBuiltinOptionsType(b, options_type)
        Operator.AddBuiltinOptions(b, options)
        operators.append(Operator.End(b))
    codes = []
    for builtin in (FULLY_CONNECTED, SOFTMAX):
        OperatorCode.Start(b)
        OperatorCode.AddDeprecatedBuiltinCode(b, builtin)
        OperatorCode.AddBuiltinCode(b, builtin)
        OperatorCode.AddVersion(b, 1)
        codes.append(OperatorCode.End(b))
    tensor_vector = vector(lambda bb, n: SubGraph.StartTensorsVector(bb, n), tensors, b.PrependUOffsetTRelative)
    in_vector = vector(lambda bb, n: SubGraph.StartInputsVector(bb, n), [0], b.PrependInt32)
    out_vector = vector(lambda bb, n: SubGraph.StartOutputsVector(bb, n), [4], b.PrependInt32)
    op_vector = vector(lambda bb, n: SubGraph.StartOperatorsVector(bb, n), operators, b.PrependUOffsetTRelative)
    SubGraph.Start(b)
    SubGraph.AddTensors(b, tensor_vector)
    SubGraph.AddInputs(b, in_vector)
    SubGraph.AddOutputs(b, out_vector)
    SubGraph.AddOperators(b, op_vector)
    subgraph = SubGraph.End(b)
    subgraphs = vector(lambda bb, n: Model.StartSubgraphsVector(bb, n), [subgraph], b.PrependUOffsetTRelative)
    code_vector = vector(lambda bb, n: Model.StartOperatorCodesVector(bb, n), codes, b.PrependUOffsetTRelative)
    buffer_vector = vector(lambda bb, n: Model.StartBuffersVector(bb, n), buffers, b.PrependUOffsetTRelative)
    Model.Start(b)
    Model.AddVersion(b, 3)
    Model.AddOperatorCodes(b, code_vector)
    Model.AddSubgraphs(b, subgraphs)
    Model.AddBuffers(b, buffer_vector)
    b.Finish(Model.End(b), file_identifier=b"TFL3")
    path.write_bytes(b.Output())
    return path


def test_litert_runs_a_tflite_the_test_writes(tmp_path):
    """The TFLite path's runner (common/tflite_path.py) on a FULLY_CONNECTED + SOFTMAX model: the logits it reads
    (the softmax's input) equal the layer's float output; the int8 model's (input quantized with the model's own
    scale and zero point, outputs dequantized) are within a few int8 steps of them; its accuracy maps the
    .tflite's label order onto the model's."""
    from tinyzoo.common.tflite_path import LiteRT, accuracy

    rng = np.random.default_rng(0)
    weight, bias = rng.normal(0, 0.5, (3, 4)).astype(np.float32), rng.normal(0, 0.1, 3).astype(np.float32)
    x = rng.uniform(-1, 1, (16, 4)).astype(np.float32)
    expected = x @ weight.T + bias

    lite = LiteRT(write_tflite(tmp_path / "float.tflite", weight, bias))
    assert lite.input_qparams is None
    assert np.abs(lite.logits(x) - expected).max() < 1e-5
    assert np.allclose(lite.run(x), torch.softmax(torch.from_numpy(expected), -1).numpy(), atol=1e-6)

    logits_scale = float(np.abs(expected).max() / 120)
    int8 = LiteRT(write_tflite(tmp_path / "int8.tflite", weight, bias, int8=(2 / 255, 0, logits_scale, 0)))
    assert int8.input_qparams == pytest.approx((2 / 255, 0))
    assert np.abs(int8.logits(x) - expected).max() <= 4 * logits_scale

    labels = expected.argmax(1)
    names, reference_order = ["a", "b", "c"], ["c", "a", "b"]   # the .tflite's output i is label reference_order[i]
    permuted = write_tflite(tmp_path / "permuted.tflite", weight[[2, 0, 1]], bias[[2, 0, 1]])
    result = accuracy(permuted, x, labels, labels, names=names, reference_names=reference_order)
    assert result["int8"] == 1.0 and result["agreement_int8_float"] == 1.0
    with pytest.raises(TinyzooError, match="not a reordering"):
        accuracy(permuted, x, labels, labels, names=names, reference_names=["a", "b", "d"])
