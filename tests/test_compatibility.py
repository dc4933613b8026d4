"""The compatibility table's script on a small subset (the whole table is `scripts/compatibility.py`, about an
hour): it runs `tinyzoo deploy` per case, names what falls back, and writes the table and its raw figures."""
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_compatibility_subset(tmp_path):
    proc = subprocess.run([sys.executable, "scripts/compatibility.py", "--case", "gelu", "--case", "upsample_bilinear",
                           "--target", "ethos-u55-128", "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["case"]: r for r in json.loads((tmp_path / "compatibility.json").read_text())["rows"]}
    assert rows["gelu"]["status"] == "lowered" and rows["gelu"]["cpu_ops"] == 0
    assert rows["upsample_bilinear"]["cpu_ops"] > 0
    assert "aten.upsample_bilinear2d.vec" in rows["upsample_bilinear"]["cpu_op_names"]
    table = (tmp_path / "compatibility.md").read_text()
    assert "nn.GELU between convs | ethos-u55-128 | yes | 100 %" in table
    assert "| partly |" in table and "random weights" in table


def test_unknown_case_is_refused():
    proc = subprocess.run([sys.executable, "scripts/compatibility.py", "--case", "no_such_case"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown case(s) no_such_case" in proc.stderr
