"""Training under torchrun: 2 gloo processes on the CPU (tests/ddp_worker.py) train the tiny Blobs problem.
Two launches (about 40 s on 2 cores): one interrupted in epoch 3, one that resumes it and runs the other jobs."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tinyzoo.common import distributed, recipe
from tinyzoo.common.errors import ConfigError
from tinyzoo.common.train import fit

from tests.conftest import REPO  # noqa: E402
from tests.test_train import CFG, Blobs, model


def torchrun(out: Path, *jobs: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}   # gloo
    env.pop("WORLD_SIZE", None)
    return subprocess.run(distributed.launch_command(2, ["tests.ddp_worker", str(out), *jobs]), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    crashed = torchrun(out, "crash")
    epoch_at_crash = torch.load(out / "resumed.pt", weights_only=False)["epoch"]
    finished = torchrun(out, "resume", "plain", "augmented", "qat")
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return {"out": out, "crashed": crashed, "epoch_at_crash": epoch_at_crash, "finished": finished}


def checkpoint(runs, name):
    return torch.load(runs["out"] / name, weights_only=False)


def test_only_process_zero_writes(runs):
    saves = re.findall(r"SAVED rank=(\d+) (\S+)", runs["crashed"].stdout + runs["finished"].stdout)
    assert saves and {rank for rank, _ in saves} == {"0"}
    assert sorted(p.name for p in runs["out"].iterdir()) == ["augmented.pt", "plain.pt", "qat.pt", "resumed.pt"]


def test_two_processes_take_the_single_process_steps(runs, tmp_path):
    """No augmentation and no dropout: each step on two halves of the global batch (the last batch of 13 split
    7 + 6) with averaged gradients is the step one process takes on the whole batch."""
    one = model()
    result = fit(one, Blobs(301), CFG, tmp_path / "one.pt", device="cpu", log_fn=lambda *_: None)
    two = checkpoint(runs, "plain.pt")
    assert [h["loss"] for h in two["history"]] == [h["loss"] for h in result.history]
    for a, b in zip(one.state_dict().values(), two["model"].values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_loss_falls_with_augmentation_dropout_and_batch_norm(runs):
    state = checkpoint(runs, "augmented.pt")
    losses = [h["loss"] for h in state["history"]]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.6 * losses[0]
    assert state["record"]["world_size"] == 2 and len(state["processes"]) == 2


def test_resume_after_an_interrupt_continues(runs):
    assert runs["crashed"].returncode != 0 and "process 1 interrupted" in runs["crashed"].stderr
    assert runs["epoch_at_crash"] == 2
    resumed, uninterrupted = checkpoint(runs, "resumed.pt"), checkpoint(runs, "augmented.pt")
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3, 4]
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in uninterrupted["history"]]
    for a, b in zip(resumed["model"].values(), uninterrupted["model"].values()):
        assert torch.equal(a, b)


def test_a_qat_graph_trains_under_ddp(runs):
    state = checkpoint(runs, "qat.pt")
    assert state["epoch"] == 2 and state["history"][1]["loss"] < state["history"][0]["loss"]


def test_build_nproc_launches_torchrun_with_the_other_arguments(monkeypatch):
    launched = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(distributed, "launch", lambda nproc, args: launched.append((nproc, args)) or 0)
    assert recipe.nproc_launch("kws/ds_cnn", ["--profile", "quick", "--nproc", "2", "--no-resume"]) == 0
    assert launched == [(2, ["tinyzoo", "build", "kws/ds_cnn", "--profile", "quick", "--no-resume"])]
    assert recipe.nproc_launch("kws/ds_cnn", ["--profile", "quick"]) is None
    assert recipe.nproc_launch("kws/ds_cnn", ["--nproc", "1"]) is None     # one process: no torchrun
    with pytest.raises(ConfigError, match=r"^train.batch_size 100 \(the global batch\) does not divide over 3"):
        recipe.nproc_launch("kws/ds_cnn", ["--nproc", "3"])                # checked before launching
    assert len(launched) == 1
    assert distributed.launch_command(2, ["tinyzoo", "build", "kws/ds_cnn"])[1:] == [
        "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "tinyzoo", "build", "kws/ds_cnn"]
    monkeypatch.setenv("WORLD_SIZE", "2")        # under torchrun: nothing more to launch
    assert recipe.nproc_launch("kws/ds_cnn", ["--nproc", "2"]) is None
    with pytest.raises(ConfigError, match="--nproc 4, but torchrun started 2 processes"):
        recipe.arguments("kws/ds_cnn", ["--nproc", "4"])


@pytest.mark.slow
def test_a_recipe_builds_on_two_processes(tmp_path):
    """`tinyzoo build kws/ds_cnn --nproc 2` on the bundled sample: process 0 synthesises, trains the float model
    and then the QAT graph with process 1, and deploys; the build folder is what one process leaves. About two
    minutes on 2 cores."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TINYZOO_CACHE": str(tmp_path / "cache"), "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, "-m", "tinyzoo", "build", "kws/ds_cnn", "--nproc", "2", "--profile", "quick",
                          "--build-dir", str(tmp_path / "b"), "--set", "train.epochs=2",
                          "--set", "data.synthetic.per_word=30", "--target", "ethos-u55-128",
                          "--set", "quantize.qat.enabled=true", "--set", "quantize.qat.epochs=1"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "build_record.json", "calibration.txt", "card", "checkpoint.pt", "config.resolved.yaml", "ethos-u55-128",
        "metrics.json",
        "model_int8.pt2", "qat_checkpoint.pt", "reference_input.bin"]
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert state["record"]["world_size"] == 2 and state["epoch"] == 2
    assert run.stdout.count("card (preview):") == 1
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["quantization"]["deployed"] == "qat" and metrics["quantization"]["qat"]["world_size"] == 2
    assert (metrics["training"]["world_size"] == 2
            and "QAT (a8w8) for 1 epochs at a static batch of 50 per process" in run.stdout)
