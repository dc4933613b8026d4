"""The training loop: it learns, it is reproducible, and an interrupted run resumes to the same weights."""
import pytest
import torch

from common.train import fit, load_weights, predict


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


def test_changed_config_trains_from_scratch(tmp_path):
    data = Blobs()
    fit(model(), data, CFG, tmp_path / "c.pt", log_fn=lambda *_: None)
    messages = []
    result = fit(model(), data, {**CFG, "lr": 0.02, "epochs": 1}, tmp_path / "c.pt", log_fn=messages.append)
    assert result.history[0]["epoch"] == 1 and "from scratch" in messages[0]
