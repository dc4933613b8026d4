"""`tinyzoo deploy` / `tinyzoo.deploy`: a user's own nn.Module through the chain without a recipe — the CLI, the
Python API, the fidelity figures, a CPU fallback named with its source line, --npu-only, a model that cannot be
exported, and bad arguments, each on tiny models written here."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from tinyzoo.cli import main
from tinyzoo.common import deploy
from tinyzoo.common.errors import ConfigError

from tests.conftest import REPO

MODEL_FILE = textwrap.dedent('''
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, mode):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.up = nn.Upsample(scale_factor=2, mode=mode)
            self.head = nn.Conv2d(8, 4, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            x = torch.relu(self.conv(x))
            x = self.up(x)                                  # line 16: bilinear falls back on U55
            return self.pool(self.head(x)).flatten(1)


    class Untraceable(nn.Module):
        def forward(self, x):
            if x.sum() > 0:                                 # line 22: data-dependent control flow
                return x * 2
            return x


    def bilinear():
        torch.manual_seed(0)
        return Net("bilinear")


    def nearest():
        torch.manual_seed(0)
        return Net("nearest")


    def untraceable():
        return Untraceable()


    def not_a_module():
        return 3
''')


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(MODEL_FILE)
    return path


def test_cli_deploys_a_model_file_and_names_the_cpu_fallback(model_file, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["deploy", f"{model_file}:bilinear", "--input-shape", "1,3,16,16", "--target", "ethos-u55-128",
                 "--target", "ethos-u85-256", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    for target in ("ethos-u55-128", "ethos-u85-256"):
        assert (out / target / "model.pte").stat().st_size > 1000
        assert (out / target / "model.tosa").is_file() and list((out / target / "vela").glob("*summary*.csv"))
    metrics = json.loads((out / "metrics.json").read_text())
    u55, u85 = metrics["targets"]["ethos-u55-128"], metrics["targets"]["ethos-u85-256"]
    # the same per-target schema as a recipe build
    for key in ("npu_ops", "cpu_ops", "cpu_op_names", "cycles", "inference_time_ms", "sram_kib", "flash_kib", "macs"):
        assert key in u55 and key in u85
    assert u85["cpu_ops"] == 0 and u55["cpu_ops"] > 0 and "aten.upsample_bilinear2d.vec" in u55["cpu_op_names"]
    # the fallback names the layer and the user's source line, with the partitioner's reason
    upsample = next(d for d in u55["cpu_op_details"] if "upsample" in d["op"])
    assert upsample["source"] == f"{model_file}:16" and upsample["module"].startswith("up (")
    assert "U55" in upsample["reason"]
    assert f"{model_file}:16" in printed and "aten.upsample_bilinear2d.vec" in printed
    assert {(r["target"], r["board"]) for r in metrics["memory_fit"]} >= {("ethos-u55-128", "corstone-300"),
                                                                         ("ethos-u85-256", "corstone-320")}
    # fidelity on the calibration inputs (random, and the card says what that means)
    fid = metrics["fidelity"]
    assert fid["samples"] == deploy.RANDOM_CALIBRATION_SAMPLES and fid["outputs_are_logits"]
    assert fid["fake_quant_int8"]["sqnr_db"] > 20
    assert "ethos-u55-128" not in fid["tosa_int8"]            # two NPU partitions: no single integer graph
    assert (fid["tosa_int8"]["ethos-u85-256"]["sqnr_db"] > 20
            and fid["max_lsb_diff_tosa_fake_quant"]["ethos-u85-256"] <= 2)
    card = (out / "card" / "user__net.md").read_text()
    assert "not accuracy" in card and "## Operators left on the CPU" in card and f"{model_file}:16" in card
    assert metrics["calibration"]["source"] == "seeded random-normal inputs"


def test_npu_only_turns_a_fallback_into_an_error(model_file, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["deploy", f"{model_file}:bilinear", "--input-shape", "1,3,16,16", "--target", "ethos-u55-128",
                 "--out", str(out), "--npu-only"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "ethos-u55-128" in err[0] and f"{model_file}:16" in err[0] and "upsample_bilinear2d" in err[0]
    assert not (out / "ethos-u55-128" / "model.pte").exists() and not (out / "metrics.json").exists()


def test_a_model_that_cannot_export_gets_exports_message_and_its_line(model_file, tmp_path, capsys):
    code = main(["deploy", f"{model_file}:untraceable", "--input-shape", "1,4", "--target", "ethos-u85-256",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "torch.export cannot trace Untraceable" in err[0] and f"{model_file}:22" in err[0]


@pytest.mark.parametrize("argv, message", [
    (["--input-shape", "2,3,16,16"], "batch"),
    (["--input-shape", "1,3,x"], "not a list of integers"),
    (["--target", "ethos-u56-128"], "unknown target"),
])
def test_bad_arguments_are_one_line(model_file, tmp_path, capsys, argv, message):
    base = {"--input-shape": "1,3,16,16", "--target": "ethos-u85-256"}
    base.update(dict(zip(argv[::2], argv[1::2])))
    args = [a for kv in base.items() for a in kv]
    code = main(["deploy", f"{model_file}:nearest", *args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]


@pytest.mark.parametrize("spec, message", [
    ("missing.py:build", "does not exist"),
    ("{file}:nope", "has no function 'nope'"),
    ("{file}:not_a_module", "not a torch.nn.Module"),
    ("torchvision:no_such_net", "torchvision has no model"),
    ("plain_name", "path/to/file.py:factory"),
])
def test_bad_model_specs(model_file, spec, message):
    with pytest.raises(ConfigError, match=message):
        deploy.load_model(spec.format(file=model_file))


def test_calibration_files(tmp_path):
    shapes = [(1, 3, 8, 8)]
    np.save(tmp_path / "a.npy", np.zeros((5, 3, 8, 8), np.float32))     # a stack of samples
    torch.save(torch.ones(3, 8, 8), tmp_path / "b.pt")                  # one sample without its batch dimension
    (stacked,) = deploy.load_inputs(tmp_path, shapes)
    assert stacked.shape == (6, 3, 8, 8) and stacked[-1].eq(1).all()
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 9, 9), np.float32))
    with pytest.raises(ConfigError, match=r"bad.npy: input 0 has shape \(2, 3, 9, 9\)"):
        deploy.load_inputs(tmp_path, shapes)
    (tmp_path / "broken.pt").write_bytes(b"not a tensor")
    with pytest.raises(ConfigError, match="cannot read .*broken.pt"):
        deploy.load_inputs(tmp_path / "broken.pt", shapes)


def test_python_api_with_real_calibration_and_eval_inputs(tmp_path):
    """tinyzoo.deploy on an nn.Module: calibration batches and separate fidelity inputs; a two-input model."""
    import tinyzoo

    class TwoInputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(8, 16), torch.nn.Linear(4, 16)
            self.head = torch.nn.Linear(16, 5)

        def forward(self, x, y):
            return self.head(torch.relu(self.a(x) + self.b(y)))

    torch.manual_seed(0)
    model = TwoInputs()
    calibration = [(torch.randn(32, 8), torch.randn(32, 4))]
    eval_inputs = [torch.randn(20, 8), torch.randn(20, 4)]
    metrics = tinyzoo.deploy(model, [torch.zeros(1, 8), torch.zeros(1, 4)], targets=["ethos-u85-256"],
                         out_dir=tmp_path / "out", calibration=calibration, eval_inputs=eval_inputs, name="user/two",
                         log=lambda *a: None)
    fid = metrics["fidelity"]
    assert fid["samples"] == 20 and metrics["calibration"] == {"samples": 32, "source": "the user's calibration inputs"}
    assert metrics["fidelity_inputs"]["source"].startswith("the given evaluation inputs")
    assert (fid["tosa_int8"]["ethos-u85-256"]["sqnr_db"] > 25
            and fid["tosa_int8"]["ethos-u85-256"]["top1_agreement_float"] >= 0.9)
    assert metrics["targets"]["ethos-u85-256"]["cpu_ops"] == 0
    assert len(metrics["model_info"]["inputs"]) == 2
    assert (tmp_path / "out" / "reference_input_0.bin").stat().st_size == 8
    assert (tmp_path / "out" / "reference_input_1.bin").stat().st_size == 4


def test_bundled_program_carries_the_pte_and_the_reference_pair(model_file, tmp_path):
    """<target>/model.bpte (ExecuTorch BundleIO): the very .pte, the int8 reference input and the int8 output the
    TOSA graph computes, so arm_executor_runner checks the model on an FVP or a board by itself."""
    from executorch.devtools.bundled_program.serialize import (
        deserialize_from_flatbuffer_to_bundled_program,
    )

    out = tmp_path / "out"
    assert main(["deploy", f"{model_file}:nearest", "--input-shape", "1,3,16,16", "--target", "ethos-u85-256",
                 "--out", str(out)]) == 0
    target = out / "ethos-u85-256"
    bundle = deserialize_from_flatbuffer_to_bundled_program((target / "model.bpte").read_bytes())
    assert bytes(bundle.program) == (target / "model.pte").read_bytes()
    (case,) = bundle.method_test_suites[0].test_cases
    assert bytes(case.inputs[0].val.data) == (out / "reference_input.bin").read_bytes()
    assert bytes(case.expected_outputs[0].val.data) == (target / "reference_output.bin").read_bytes()


@pytest.mark.slow
def test_deploy_cli_as_a_user_runs_it(model_file, tmp_path):
    """The installed entry point, as a subprocess: --json prints only the metrics on stdout."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "tinyzoo", "deploy", f"{model_file}:nearest", "--input-shape",
                           "1,3,16,16", "--target", "ethos-u55-128", "--out", str(out), "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads(proc.stdout)
    assert metrics["targets"]["ethos-u55-128"]["cpu_ops"] == 0     # nearest upsampling lowers on U55
    assert "Traceback" not in proc.stderr


def test_fidelity_of_a_model_whose_output_barely_varies_is_said_not_meaningful():
    """Issue 24: random or untrained weights can make the float output nearly constant over the inputs; an SQNR
    against it would be printed as a figure (often negative) — the fidelity says it is not meaningful instead."""
    import numpy as np
    from tinyzoo.common.verify import output_barely_varies

    rng = np.random.default_rng(0)
    varying = rng.normal(size=(16, 10))
    constant = np.full((16, 10), 3.0) + 1e-6 * rng.normal(size=(16, 10))
    assert not output_barely_varies(varying) and output_barely_varies(constant)
    assert output_barely_varies(np.zeros((4, 3))) and not output_barely_varies(varying[:1])
