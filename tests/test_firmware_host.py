"""The reference firmware apps built for the host against the executorch wheel, run on golden inputs, agree with
Python running the same model on the same input.

What is compared, per model (kws/ds_cnn on real committed Speech Commands clips, vision/resnet8_cifar10 on the
golden synthetic images, one of them resized by the C front end):
  * the app fed the Python-quantized int8 input (`<name>.input.s8`): its int8 output equals, value for value,
    the output ExecuTorch's Python runtime computes for the same portable `.pte` and input (same program, same
    kernels: exact), and its softmax scores equal NumPy's softmax of that output within 1e-5;
  * the app fed the raw device input (int16 PCM / uint8 RGB) through its C front end: the same top-1 as Python
    (Python front end -> quantize -> the same program), and int8 outputs within 2 LSB — the C front end may
    round a few model-input values 1 LSB differently from the float64 Python reference (see
    tests/test_firmware_frontend.py), which moves an output by at most a couple of LSB.
The portable `.pte` is the published int8 program (model_int8.pt2) lowered without the NPU delegate; it is also
checked against the Ethos-U target's reference output (the int8 TOSA graph Vela compiled) on the published
reference input, within the published max LSB difference between the two.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "zoo" / "artifacts"
MODELS = ("kws/ds_cnn", "vision/resnet8_cifar10")


def cmake_328() -> str | None:
    """A cmake >= 3.28: the venv's (pip install cmake) first, then PATH."""
    candidates = [Path(sys.executable).parent / "cmake", shutil.which("cmake")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            out = subprocess.run([str(candidate), "--version"], capture_output=True, text=True).stdout
            match = re.search(r"version (\d+)\.(\d+)", out)
            if match and (int(match.group(1)), int(match.group(2))) >= (3, 28):
                return str(candidate)
    return None


CMAKE = cmake_328()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CMAKE is None, reason="the host firmware build needs CMake >= 3.28 for the executorch "
                                             "wheel's imported targets: pip install 'cmake>=3.28'"),
]


def parse_result(stdout: str) -> list[dict]:
    results = []
    for line in stdout.splitlines():
        if line.startswith("result "):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            fields["scores"] = np.array([float(v) for v in fields["scores"].split(",")])
            fields["output_int8"] = np.array([int(v) for v in fields["output_int8"].split(",")], dtype=np.int8)
            results.append(fields)
    return results


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.fixture(scope="module")
def host_build(tmp_path_factory):
    import executorch

    build = tmp_path_factory.mktemp("firmware-host")
    prefix = Path(list(executorch.__path__)[0])
    configure = [CMAKE, "-S", str(REPO / "common" / "firmware"), "-B", str(build),
                 f"-DCMAKE_PREFIX_PATH={prefix}", f"-DPython3_EXECUTABLE={sys.executable}",
                 "-DTZ_APPS=" + ";".join(MODELS)]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    for command in (configure, [CMAKE, "--build", str(build), "-j2"]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return build


@pytest.fixture(scope="module")
def portable(tmp_path_factory):
    from common.firmware.portable import export_published

    out = tmp_path_factory.mktemp("portable")
    return {model: export_published(ARTIFACTS / model, out / f"{model.replace('/', '_')}.pte") for model in MODELS}


def run_app(build: Path, model: str, pte: Path, *args) -> list[dict]:
    binary = build / model.replace("/", "_")
    done = subprocess.run([str(binary), str(pte), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{binary.name} failed:\n{done.stdout}\n{done.stderr}"
    results = parse_result(done.stdout)
    assert results, f"no result line in:\n{done.stdout}"
    return results


def python_output(pte: Path, int8_input: np.ndarray, shape) -> np.ndarray:
    import torch

    from common.firmware.portable import run_portable

    out = run_portable(pte, torch.from_numpy(int8_input.reshape(shape).copy()))
    assert out.dtype == torch.int8, "the portable program must return the int8 output, as the Ethos-U one does"
    return out.numpy().ravel()


@pytest.mark.parametrize("model", MODELS)
def test_portable_pte_matches_npu_reference(portable, model):
    metrics = json.loads((ARTIFACTS / model / "metrics.json").read_text())
    shape = metrics["model_info"]["input"]["shape"]
    x = np.fromfile(ARTIFACTS / model / "reference_input.bin", dtype=np.int8)
    ours = python_output(portable[model], x, shape)
    for target, lsb in metrics["accuracy"]["max_lsb_diff_tosa_fake_quant"].items():
        npu = np.fromfile(ARTIFACTS / model / target / "reference_output.bin", dtype=np.int8)
        assert np.abs(ours.astype(int) - npu.astype(int)).max() <= lsb, (target, ours, npu)


@pytest.mark.parametrize("model", MODELS)
def test_host_app_matches_python(host_build, portable, tmp_path, model):
    from common.firmware.golden import export_golden

    metrics = json.loads((ARTIFACTS / model / "metrics.json").read_text())
    labels = metrics["labels"]
    shape = metrics["model_info"]["input"]["shape"]
    q = metrics["quantization"]["io"]["output"]
    manifest = json.loads(export_golden(model, tmp_path / "golden").read_text())
    golden = tmp_path / "golden"
    pte = portable[model]
    assert manifest["samples"]
    for sample in manifest["samples"]:
        x = np.fromfile(golden / sample["input"], dtype=np.int8)
        expected = python_output(pte, x, shape)
        expected_scores = softmax((expected.astype(np.float32) - q["zero_point"]) * np.float32(q["scale"]))

        # 1. The app on the Python-quantized input: exact int8 output, same scores and top-1.
        (result,) = run_app(host_build, model, pte, golden / sample["input"], "--int8")
        np.testing.assert_array_equal(result["output_int8"], expected, err_msg=sample["name"])
        np.testing.assert_allclose(result["scores"], expected_scores, atol=1e-5, err_msg=sample["name"])
        assert result["top1"] == labels[int(np.argmax(expected_scores))]

        # 2. The app on the raw device input through its own C front end.
        if "pcm" in sample:
            results = run_app(host_build, model, pte, golden / sample["pcm"])
            assert len(results) == 1      # a one-clip input: one window
        else:
            results = run_app(host_build, model, pte, golden / sample["image"], sample["height"], sample["width"])
        result = results[0]
        assert result["top1"] == labels[int(np.argmax(expected_scores))], sample["name"]
        diff = np.abs(result["output_int8"].astype(int) - expected.astype(int)).max()
        assert diff <= 2, f"{sample['name']}: C front end output differs by {diff} LSB"
