"""The CLI's errors: one clear line that says what was wrong and what to do, exit code 2, no traceback."""
import json

import pytest
from tinyzoo import cli, get, list_models


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_the_recipes(capsys):
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    assert "kws/ds_cnn" in [row["model"] for row in json.loads(out)]
    assert "kws/ds_cnn" in list_models()


@pytest.mark.parametrize("command", ["info", "eval", "build"])
def test_unknown_model(capsys, command):
    code, _, err = run(capsys, command, "kws/ds_cnx")
    assert code == 2
    assert "unknown model 'kws/ds_cnx'" in err and "Did you mean kws/ds_cnn" in err and "Traceback" not in err


def test_unknown_target(capsys, tmp_path):
    code, _, err = run(capsys, "build", "kws/ds_cnn", "--target", "ethos-u99-1", "--build-dir", str(tmp_path),
                       "--data-root", str(tmp_path))
    assert code == 2 and "unknown target 'ethos-u99-1'" in err and "ethos-u55-128" in err


def test_missing_data_says_where_it_looked(capsys, tmp_path):
    code, _, err = run(capsys, "eval", "kws/ds_cnn", "--data-root", str(tmp_path / "nowhere"),
                       "--artifacts", str(tmp_path))
    assert code == 2 and str(tmp_path / "nowhere") in err and "--download" in err


def test_bad_override(capsys, tmp_path):
    code, _, err = run(capsys, "build", "kws/ds_cnn", "--set", "train.epoch=1", "--build-dir", str(tmp_path))
    assert code == 2 and "no key 'epoch'" in err


def test_model_paths():
    model = get("kws/ds_cnn")
    assert model.card_path.name == "kws__ds_cnn.md"
    assert model.config["model"]["name"] == "kws/ds_cnn"
