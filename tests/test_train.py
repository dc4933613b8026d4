"""The training loop: it learns, it is reproducible, and an interrupted run resumes to the same weights."""
import copy

import pytest
import torch
from tinyzoo.common.errors import ArtifactError, ConfigError, TrainingError
from tinyzoo.common.train import fit, load_weights, predict, weights_shaped_by


class Blobs(torch.utils.data.Dataset):
    """Three Gaussian blobs in 8-D: a real (if easy) classification problem."""

    def __init__(self, n=300, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 3, (n,), generator=g)
        centres = torch.eye(3, 8) * 3
        self.x = centres[self.y] + torch.randn(n, 8, generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


CFG = {"epochs": 4, "batch_size": 32, "optimizer": "adam", "lr": 0.01, "lr_schedule": "cosine", "seed": 0}


def test_learns_and_reports(tmp_path):
    data, test = Blobs(), Blobs(seed=1)
    m = model()
    result = fit(m, data, CFG, tmp_path / "ckpt.pt", eval_set=(test.x, test.y), log_fn=lambda *_: None)
    assert result.epochs_run == 4 and result.seconds_per_epoch > 0
    assert result.history[-1]["val_accuracy"] > 0.9 and result.history[-1]["loss"] < result.history[0]["loss"]
    restored = load_weights(model(), tmp_path / "ckpt.pt")
    assert torch.equal(predict(restored, test.x), predict(m, test.x))


def test_resume_after_interruption_gives_the_same_weights(tmp_path):
    data = Blobs()
    uninterrupted = model()
    fit(uninterrupted, data, CFG, tmp_path / "a.pt", log_fn=lambda *_: None)

    calls = {"n": 0}

    def crash_in_epoch_three(x, y, generator=None):
        calls["n"] += 1
        if calls["n"] == 2 * 10 + 3:       # 10 batches per epoch: crash during epoch 3
            raise KeyboardInterrupt
        return x, y

    with pytest.raises(KeyboardInterrupt):
        fit(model(), data, CFG, tmp_path / "b.pt", batch_transform=crash_in_epoch_three, log_fn=lambda *_: None)
    assert torch.load(tmp_path / "b.pt", weights_only=False)["epoch"] == 2
    resumed = model()
    result = fit(resumed, data, CFG, tmp_path / "b.pt", batch_transform=lambda x, y, generator=None: (x, y),
                 log_fn=lambda *_: None)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def quiet(*_):
    pass


class Clips(Blobs):
    """Blobs with sample ids, as the recipes' data sets have (ClipSet, ImageSet, TokenWindows)."""

    def __init__(self, n=300, seed=0):
        super().__init__(n, seed)
        self.ids = [f"s{seed}:{i}" for i in range(n)]


RECIPE = {"data": {"dataset": "blobs"}, "frontend": {"window_ms": 40, "hop_ms": 20},
          "model": {"builder": "tests:model", "args": {"hidden": 16}}, "train": CFG}


def reference_fit(model, data, cfg, batch_transform):
    """The training loop as it was before DDP (common/train.py at 40d20b8, less the checkpoint): one process
    must still train exactly this."""
    import math

    from tinyzoo.common.train import _batch, _optimizer, _schedule

    n, batch_size = len(data), cfg["batch_size"]
    steps = math.ceil(n / batch_size)
    optimizer = _optimizer(model, cfg)
    scheduler = _schedule(optimizer, cfg, steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.get("label_smoothing", 0.0))
    generator = torch.Generator().manual_seed(cfg.get("seed", 0))
    losses = []
    for _ in range(cfg["epochs"]):
        model.train()
        order = torch.randperm(n, generator=generator).tolist()
        total = 0.0
        for step in range(steps):
            x, y = _batch(data, order[step * batch_size:(step + 1) * batch_size])
            with torch.no_grad():
                x, y = batch_transform(x, y, generator=generator)
            model.train()
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * y.numel()
        losses.append(round(total / n, 4))
    return losses


def dropout_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                               torch.nn.Dropout(0.3), torch.nn.Linear(16, 3))


def noise(x, y, generator=None):
    return x + 0.3 * torch.randn(x.shape, generator=generator), y


def test_one_process_trains_exactly_as_before_ddp(tmp_path):
    cfg = {**CFG, "epochs": 3, "optimizer": "adamw", "warmup_epochs": 1, "label_smoothing": 0.1, "seed": 3}
    data = Blobs(301)                                   # a last batch of 13
    torch.manual_seed(5)
    before = dropout_model()
    losses = reference_fit(before, data, cfg, noise)
    torch.manual_seed(5)
    now = dropout_model()
    result = fit(now, data, cfg, tmp_path / "now.pt", batch_transform=noise, device="cpu", log_fn=quiet)
    assert [h["loss"] for h in result.history] == losses
    for a, b in zip(before.state_dict().values(), now.state_dict().values()):
        assert torch.equal(a, b)
    assert result.setup() == {"world_size": 1, "devices": "1 x CPU", "global_batch_size": 32, "precision": "fp32"}


def test_drop_last_drops_the_partial_batch(tmp_path):
    sizes = []

    def record(x, y, generator=None):
        sizes.append(len(x))
        return x, y
    fit(model(), Blobs(301), {**CFG, "epochs": 2}, tmp_path / "d.pt", batch_transform=record, drop_last=True,
        log_fn=quiet)
    assert sizes == [32] * 18                           # 9 full batches per epoch, the 13 left over dropped
    sizes.clear()
    fit(model(), Blobs(301), {**CFG, "epochs": 1}, tmp_path / "e.pt", batch_transform=record, log_fn=quiet)
    assert sizes == [32] * 9 + [13]


def test_batch_size_must_divide_over_the_processes(tmp_path, monkeypatch):
    from tinyzoo.common import distributed

    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    with pytest.raises(ConfigError, match="train.batch_size 32 .* does not divide over 3 processes"):
        fit(model(), Blobs(), CFG, tmp_path / "w.pt", log_fn=quiet)


def test_bf16_is_ignored_on_the_cpu(tmp_path):
    messages = []
    a, b = model(), model()
    fit(a, Blobs(), {**CFG, "epochs": 1}, tmp_path / "a.pt", device="cpu", log_fn=quiet)
    result = fit(b, Blobs(), {**CFG, "epochs": 1, "precision": "bf16"}, tmp_path / "b.pt", device="cpu",
                 log_fn=messages.append)
    assert "ignored on the CPU" in messages[0] and result.precision == "fp32"
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_sync_batchnorm_swap_is_undone():
    from tinyzoo.common.train import from_sync_batchnorm, to_sync_batchnorm

    net = dropout_model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    swapped = to_sync_batchnorm(net)
    assert isinstance(net[1], torch.nn.SyncBatchNorm) and len(swapped) == 1
    net[1].running_mean += 1
    from_sync_batchnorm(swapped)
    assert type(net[1]) is torch.nn.BatchNorm1d
    assert torch.equal(net.state_dict()["1.running_mean"], before["1.running_mean"] + 1)


def build_fit(path, recipe, data, log_fn=quiet, **kw):
    """What a recipe's build does: fit with the record of what shapes the weights."""
    return fit(model(), data, recipe["train"], path, shaped_by=weights_shaped_by(recipe, data), log_fn=log_fn, **kw)


def with_value(recipe, section, key, value):
    changed = copy.deepcopy(recipe)
    node = changed[section]
    for part in key.split(".")[:-1]:
        node = node[part]
    node[key.split(".")[-1]] = value
    return changed


def test_same_build_resumes(tmp_path):
    build_fit(tmp_path / "c.pt", RECIPE, Clips())
    messages = []
    result = build_fit(tmp_path / "c.pt", RECIPE, Clips(), log_fn=messages.append)
    assert messages == [f"resuming from {tmp_path / 'c.pt'} after epoch 4/4"] and len(result.history) == 4


@pytest.mark.parametrize("section, key, value, says", [
    ("frontend", "window_ms", 30, "was trained with frontend.window_ms=40, this build has 30: pass --no-resume"),
    ("model", "args.hidden", 32, "was trained with model.args.hidden=16, this build has 32: pass --no-resume"),
    ("train", "lr", 0.02, "was trained with train.lr=0.01, this build has 0.02: pass --no-resume"),
])
def test_changed_config_is_refused_naming_what_differs(tmp_path, section, key, value, says):
    build_fit(tmp_path / "c.pt", RECIPE, Clips())
    with pytest.raises(ConfigError) as refused:
        build_fit(tmp_path / "c.pt", with_value(RECIPE, section, key, value), Clips())
    assert str(refused.value) == f"{tmp_path / 'c.pt'} {says} to train from scratch, or use another --build-dir"


def test_changed_data_is_refused(tmp_path):
    build_fit(tmp_path / "c.pt", RECIPE, Clips())
    with pytest.raises(ConfigError, match=r"was trained with training_data\.sha256=\w+, this build has \w+"):
        build_fit(tmp_path / "c.pt", RECIPE, Clips(seed=1))          # as many samples, other ones
    with pytest.raises(ConfigError, match="training_data.samples=300 and training_data.sha256=.*this build has "
                                          "training_data.samples=200 and"):
        build_fit(tmp_path / "c.pt", RECIPE, Clips(200))


def test_truncated_checkpoint_is_an_artifact_error(tmp_path):
    path = tmp_path / "c.pt"
    build_fit(path, RECIPE, Clips())
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ArtifactError) as broken:
        build_fit(path, RECIPE, Clips())
    message = str(broken.value)
    assert message.startswith(f"{path} cannot be loaded (") and "\n" not in message
    assert message.endswith("delete it or pass --no-resume to train from scratch")


def test_checkpoint_without_the_record_is_compared_as_before(tmp_path):
    path = tmp_path / "c.pt"
    fit(model(), Blobs(), CFG, path, log_fn=quiet)
    state = torch.load(path, weights_only=False)
    del state["record"]                                   # as checkpoints written before the record
    torch.save(state, path)
    messages = []
    result = build_fit(path, RECIPE, Clips(), log_fn=messages.append)
    assert ("predates the resume record" in messages[0] and messages[1].startswith("resuming")
            and len(result.history) == 4)
    messages.clear()
    with_precision = with_value(RECIPE, "train", "precision", "fp32")     # the key configs gained with the record
    result = build_fit(path, with_precision, Clips(), log_fn=messages.append)
    assert messages[1].startswith("resuming") and len(result.history) == 4
    messages.clear()
    result = build_fit(path, with_value(RECIPE, "train", "lr", 0.02), Clips(), log_fn=messages.append)
    assert "from scratch" in messages[0] and len(result.history) == 4 and messages[-1].startswith("epoch 4")


def test_changed_model_behind_an_old_checkpoint_is_one_line(tmp_path):
    path = tmp_path / "c.pt"
    fit(model(), Blobs(), CFG, path, log_fn=quiet)
    state = torch.load(path, weights_only=False)
    del state["record"]
    torch.save(state, path)
    wider = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
    with pytest.raises(ConfigError, match=r"holds the weights of another model \(RuntimeError: .*\): pass --no-resume"):
        fit(wider, Blobs(), CFG, path, log_fn=quiet)


def test_a_nan_loss_stops_training_in_one_line_keeping_the_last_good_epoch(tmp_path):
    calls = {"n": 0}

    def poison_batch_four_of_epoch_two(x, y, generator=None):
        calls["n"] += 1
        return (x * float("nan"), y) if calls["n"] == 10 + 4 else (x, y)

    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2, batch 4 .*keeps the weights after epoch 1"):
        fit(model(), Blobs(), CFG, tmp_path / "c.pt", batch_transform=poison_batch_four_of_epoch_two,
            log_fn=lambda *_: None)
    assert torch.load(tmp_path / "c.pt", weights_only=False)["epoch"] == 1


def test_a_published_checkpoint_gives_its_weights_without_training(tmp_path):
    """A finished checkpoint without optimizer state (as published) is used as is; an unfinished one is refused."""
    from tinyzoo.common.pipeline import slim_checkpoint

    data, test = Blobs(), Blobs(seed=1)
    trained = model()
    fit(trained, data, CFG, tmp_path / "full.pt", log_fn=lambda *_: None)
    slim_checkpoint(tmp_path / "full.pt", tmp_path / "published.pt")
    assert "optimizer" not in torch.load(tmp_path / "published.pt", weights_only=False)
    batches, logged = [], []
    reused = model()
    result = fit(reused, data, CFG, tmp_path / "published.pt", log_fn=logged.append,
                 batch_transform=lambda x, y, generator=None: batches.append(1) or (x, y))
    assert batches == [] and result.epochs_run == 4 and any("training skipped" in line for line in logged)
    assert torch.equal(predict(reused, test.x), predict(trained, test.x))
    # the machine the epochs ran on travels with them, not the machine that reuses them
    assert result.hardware and result.hardware == torch.load(tmp_path / "published.pt", weights_only=False)["hardware"]

    def crash_in_epoch_three(x, y, generator=None, calls=[]):
        calls.append(1)
        if len(calls) == 23:
            raise KeyboardInterrupt
        return x, y

    with pytest.raises(KeyboardInterrupt):
        fit(model(), data, CFG, tmp_path / "part.pt", batch_transform=crash_in_epoch_three, log_fn=lambda *_: None)
    slim_checkpoint(tmp_path / "part.pt", tmp_path / "part_slim.pt")
    with pytest.raises(ConfigError, match=r"after epoch 2 of 4 without the optimizer state"):
        fit(model(), data, CFG, tmp_path / "part_slim.pt", log_fn=lambda *_: None)


def test_build_weights_option(tmp_path):
    """`tinyzoo build M --weights CHECKPOINT`: the checkpoint becomes the build's; a missing file or --no-resume
    with it is one line."""
    import argparse

    from tinyzoo.common import recipe

    published = tmp_path / "published.pt"
    published.write_bytes(b"weights")
    args = argparse.Namespace(build_dir=tmp_path / "build", weights=published, no_resume=False)
    assert (recipe.build_dir("kws/ds_cnn", args) / "checkpoint.pt").read_bytes() == b"weights"
    with pytest.raises(ConfigError, match="no such file"):
        recipe.build_dir("kws/ds_cnn", argparse.Namespace(build_dir=tmp_path / "b", weights=tmp_path / "x.pt",
                                                          no_resume=False))
    with pytest.raises(ConfigError, match="--no-resume"):
        recipe.build_dir("kws/ds_cnn", argparse.Namespace(build_dir=tmp_path / "b", weights=published, no_resume=True))


def test_wiring_strings_recorded_by_older_checkpoints_do_not_block_resume(tmp_path):
    old = with_value(RECIPE, "model", "builder", "recipes.kws.ds_cnn.model:ds_cnn")   # as configs once had it
    build_fit(tmp_path / "c.pt", old, Clips())
    messages = []
    result = build_fit(tmp_path / "c.pt", RECIPE, Clips(), log_fn=messages.append)
    assert messages == [f"resuming from {tmp_path / 'c.pt'} after epoch 4/4"] and len(result.history) == 4


def test_distillation_teaches_the_student_and_leaves_the_teacher_alone(tmp_path):
    """train.distill: with the whole loss on the teacher's soft targets (weight 1), the student learns the teacher's
    function — labels it never sees are permuted — and the teacher's parameters do not move."""
    data, test = Blobs(), Blobs(seed=1)
    teacher = model()
    fit(teacher, data, CFG, tmp_path / "teacher.pt", log_fn=quiet)
    before = copy.deepcopy(teacher.state_dict())
    shuffled = Blobs()
    shuffled.y = (shuffled.y + 1) % 3                      # wrong labels: only the teacher can teach the classes
    torch.manual_seed(1)
    student = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    cfg = {**CFG, "distill": {"teacher": "tiny", "temperature": 2.0, "weight": 1.0}}
    result = fit(student, shuffled, cfg, tmp_path / "student.pt", teacher=teacher, log_fn=quiet)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    agree = (predict(student, test.x).argmax(1) == predict(teacher, test.x).argmax(1)).float().mean()
    assert agree > 0.9 and all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())


def test_a_teacher_on_another_image_front_end_sees_its_own_features():
    """vision/vit_tiny_cifar10 taught by MLPerf's ResNet-8 (raw 0-255 pixels): the teacher view feeds the teacher
    exactly its own front end's features of the image the student sees."""
    from tinyzoo.common.config import load_config, load_recipe_config
    from tinyzoo.common.frontend.image import ImageConfig, ImagePreprocess
    from tinyzoo.common.layout import ARTIFACTS, RECIPES
    from tinyzoo.common.pipeline import distillation_teacher

    cfg = load_recipe_config(RECIPES / "vision" / "vit_tiny_cifar10")
    cfg["train"]["distill"] = {"teacher": "vision/resnet8_cifar10.mlperf", "temperature": 4.0, "weight": 0.5}
    view = distillation_teacher(cfg)
    teacher_cfg = load_config(ARTIFACTS / "vision" / "resnet8_cifar10.mlperf" / "config.resolved.yaml")
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    mine = ImagePreprocess(ImageConfig.from_dict(cfg["frontend"]))(images)
    theirs = ImagePreprocess(ImageConfig.from_dict(teacher_cfg["frontend"]))(images)
    with torch.no_grad():
        assert torch.allclose(view(mine), view.teacher(theirs), atol=1e-3)
    assert not any(p.requires_grad for p in view.parameters())
    cfg["train"]["distill"]["teacher"] = "kws/ds_cnn.mlperf"
    with pytest.raises(ConfigError, match="has other labels than this recipe"):
        distillation_teacher(cfg)
    cfg["train"]["distill"]["teacher"] = "vision/nothing"
    with pytest.raises(ConfigError, match="no published model with its weights"):
        distillation_teacher(cfg)
