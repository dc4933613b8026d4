"""Lowering in a child process (common/child.py, common/lower.py lower_in_child): the same bytes as lowering in
this process; a native crash or an exception inside a dependency comes back as one line naming the target and
the stage; a build or deploy goes on with its other targets, writes them, and exits 3 naming the failed one."""
import json
import os
import signal

import pytest
import torch
from tinyzoo.common import child, lower
from tinyzoo.common.chain import save_fake_quant
from tinyzoo.common.errors import DependencyError
from tinyzoo.common.quantize import quantize_ptq


def tiny_int8(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1)).eval()
    x = torch.randn(8, 3, 8, 8)
    quantized = quantize_ptq(model, (x[:1],), [(x,)], target="ethos-u55-128")
    return save_fake_quant(quantized, (x[:1],), tmp_path / "model_int8.pt2"), quantized, x[:1]


# --- run in the child (spawned: each is imported there by its module name) -------------------------------------

def crash_in_vela(program, example, target, out_dir, *, stage, **options):
    """The real lowering, with Vela replaced by a segmentation fault (a native crash inside a dependency)."""
    from executorch.backends.arm.ethosu import backend

    backend.vela_compile = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGSEGV)
    return lower.lower_saved(program, example, target, out_dir, stage=stage, **options)


def fail_in_vela(program, example, target, out_dir, *, stage, **options):
    from executorch.backends.arm.ethosu import backend

    def refuse(*args, **kwargs):
        raise RuntimeError("Vela could not allocate the tensor arena\nsecond line")

    backend.vela_compile = refuse
    return lower.lower_saved(program, example, target, out_dir, stage=stage, **options)


def crash_on_u85(program, example, target, out_dir, *, stage, **options):
    if target == "ethos-u85-256":
        return crash_in_vela(program, example, target, out_dir, stage=stage, **options)
    return lower.lower_saved(program, example, target, out_dir, stage=stage, **options)


# -----------------------------------------------------------------------------------------------------------------

def test_lowering_in_a_child_gives_the_bytes_lowering_here_gives(tmp_path):
    saved, quantized, x = tiny_int8(tmp_path)
    messages = []
    low = lower.lower_in_child(saved, (x,), "ethos-u55-128", tmp_path / "child", log=messages.append)
    here = lower.lower_ethos_u(quantized, (x,), "ethos-u55-128", tmp_path / "here")
    assert low.pte_path.read_bytes() == here.pte_path.read_bytes() and low.npu_ops == here.npu_ops
    assert low.tosa_path.read_bytes() == here.tosa_path.read_bytes() and low.whole


def test_a_native_crash_inside_vela_is_one_line_naming_target_and_stage(tmp_path):
    saved, _, x = tiny_int8(tmp_path)
    with pytest.raises(DependencyError) as err:
        child.run(crash_in_vela, saved, (x.numpy(),), "ethos-u85-256", tmp_path / "out",
                  what="lowering for ethos-u85-256", log=print)
    message = str(err.value)
    assert message.startswith("lowering for ethos-u85-256: the process doing it was killed by SIGSEGV during Vela")
    assert "\n" not in message and err.value.exit_code == 3 and not (tmp_path / "out").exists()


def test_an_exception_inside_a_dependency_names_the_stage_and_its_first_line(tmp_path):
    saved, _, x = tiny_int8(tmp_path)
    with pytest.raises(DependencyError, match=r"^lowering for ethos-u55-128: Vela failed: RuntimeError: Vela could "
                                              r"not allocate the tensor arena \(raised in executorch/backends/arm/"
                                              r"ethosu/backend.py:\d+ \(_compile_tosa_flatbuffer\)\)$"):
        child.run(fail_in_vela, saved, (x.numpy(),), "ethos-u55-128", tmp_path / "out",
                  what="lowering for ethos-u55-128", log=print)


@pytest.mark.slow
def test_deploy_goes_on_with_the_other_targets_when_one_crashes(tmp_path, monkeypatch, capsys):
    """The user's model lowers for U55; the U85 lowering dies inside Vela: U55's results and the card are written,
    the card and metrics name the failed target, and the command exits 3 with one line."""
    from tinyzoo import cli

    model_file = tmp_path / "net.py"
    model_file.write_text("import torch\n\ndef model():\n    torch.manual_seed(0)\n    return torch.nn.Sequential("
                          "torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1))\n")
    monkeypatch.setattr(lower, "lower_saved", crash_on_u85)
    out = tmp_path / "out"
    code = cli.main(["deploy", f"{model_file}:model", "--input-shape", "1,3,8,8", "--target", "ethos-u55-128",
                     "--target", "ethos-u85-256", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3 and err.startswith("tinyzoo: error: lowering for ethos-u85-256: the process doing it was "
                                        "killed by SIGSEGV during Vela")
    assert err.endswith(f"the other targets' results are written to {out}")
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["targets"]) == ["ethos-u55-128"] and list(metrics["failed_targets"]) == ["ethos-u85-256"]
    assert (out / "ethos-u55-128" / "model.pte").is_file() and not (out / "ethos-u85-256").exists()
    assert metrics["fidelity"]["max_lsb_diff_tosa_fake_quant"]["ethos-u55-128"] <= 1
    card = next((out / "card").glob("*.md")).read_text()
    assert "> **Lowering failed inside a dependency for ethos-u85-256**" in card
