"""Memory fit per board (common/boards.py) on the published artifacts: pools from the real .pte files, a case
that fits and a forced case that does not, with the shortfall named."""
import json
from pathlib import Path

import pytest
from tinyzoo.common import boards
from tinyzoo.common.errors import TinyzooError

ARTIFACTS = Path(__file__).resolve().parents[1] / "zoo" / "artifacts"
KWS = ARTIFACTS / "kws" / "ds_cnn"


def report(model_dir: Path, target: str) -> dict:
    return {"target": target, **json.loads((model_dir / "metrics.json").read_text())["targets"][target]}


def test_pools_come_from_the_pte():
    facts = boards.pte_facts(KWS / "ethos-u55-128" / "model.pte")
    # The Ethos-U scratch in the .pte is Vela's SRAM figure (21.67 KiB) for a Shared_Sram model.
    assert facts.scratch_bytes == 22192
    assert round(facts.scratch_bytes / 1024, 2) == report(KWS, "ethos-u55-128")["sram_kib"]
    assert facts.planned_bytes == 512          # the int8 input and output, 16-byte aligned
    assert facts.pte_bytes == (KWS / "ethos-u55-128" / "model.pte").stat().st_size
    assert facts.delegates == ("EthosUBackend",)


def test_kws_fits_corstone_300_and_alif_e7():
    for board in ("corstone-300", "alif-e7"):
        fit = boards.memory_fit(KWS / "ethos-u55-256" / "model.pte", report(KWS, "ethos-u55-256"), board,
                                app_bytes=50 * 1024)
        assert fit["supported"] and fit["fits"], fit
        assert fit["summary"].startswith("fits")
        assert fit["pools"]["temp_pool"]["bytes"] == 22192
        assert fit["pools"]["temp_pool"]["memory"] in ("SRAM", "SRAM1")   # Shared_Sram: arena in SRAM
        assert fit["pools"]["model"]["memory"] in ("DDR", "MRAM")         # weights stay in flash/DDR


def test_memory_mode_moves_the_pools():
    u85 = boards.memory_fit(KWS / "ethos-u85-256" / "model.pte", report(KWS, "ethos-u85-256"), "corstone-320")
    assert u85["memory_mode"] == "Sram_Only" and u85["pools"]["model"]["memory"] == "SRAM"
    u65 = boards.memory_fit(KWS / "ethos-u65-256" / "model.pte", report(KWS, "ethos-u65-256"), "corstone-300")
    assert u65["pools"]["fast_scratch"] == {"bytes": 384 * 1024, "memory": "SRAM"}
    assert u65["pools"]["temp_pool"]["memory"] == "DDR"


def test_forced_overflow_names_pool_and_shortfall(monkeypatch):
    # A board like Alif E7 whose NPU SRAM bank is only 16 KiB: the 21.7 KiB arena cannot fit.
    small = boards.Board(**{**boards.BOARDS["alif-e7"].__dict__, "name": "tiny",
                            "memories": {**boards.BOARDS["alif-e7"].memories, "SRAM1": 16 * 1024}})
    monkeypatch.setitem(boards.BOARDS, "tiny", small)
    fit = boards.memory_fit(KWS / "ethos-u55-256" / "model.pte", report(KWS, "ethos-u55-256"), "tiny")
    assert fit["fits"] is False
    assert fit["memories"]["SRAM1"]["short_kib"] == round((22192 - 16 * 1024) / 1024, 1)
    assert "needs 5.7 KiB more SRAM1" in fit["summary"] and "temp_pool 21.7" in fit["summary"]


def test_unsupported_target_and_unknown_board():
    fit = boards.memory_fit(KWS / "ethos-u65-256" / "model.pte", report(KWS, "ethos-u65-256"), "alif-e7")
    assert fit["supported"] is False and "has no ethos-u65-256" in fit["summary"]
    with pytest.raises(TinyzooError, match="unknown board"):
        boards.board("stm32")


def test_fit_table_covers_every_published_target():
    rows = boards.fit_table(KWS)
    targets = set(json.loads((KWS / "metrics.json").read_text())["targets"])
    assert {r["target"] for r in rows} == targets
    assert all(r["fits"] for r in rows)            # a 35 KiB KWS model fits every board that carries its NPU
    assert {"corstone-300", "corstone-320", "alif-e7", "alif-e8"} <= {r["board"] for r in rows}


def test_a_further_program_has_its_own_rows_with_its_own_buffers():
    """A language model's decode step (its own .pte per target) gets rows of its own: the app built with it holds
    the window app's buffers plus the int8 key and value cache and the mask, and its own tables with the model."""
    lm = ARTIFACTS / "text" / "tiny_lm"
    metrics = json.loads((lm / "metrics.json").read_text())
    rows = boards.fit_table(lm)
    window = {(r["target"], r["board"]): r for r in rows if "program" not in r}
    step = {(r["target"], r["board"]): r for r in rows if r.get("program") == "decode_step"}
    assert window and set(step) == set(window)
    *_, keys, values, visible = metrics["kv_cache"]["shapes"]["inputs"]
    cache = 2 * keys[0] * keys[1] * keys[2] + visible[-1]
    assert keys == values
    for key, row in step.items():
        assert row["pools"]["app"]["bytes"] == window[key]["pools"]["app"]["bytes"] + cache
        assert row["pools"]["model"]["bytes"] > (lm / key[0] / "decode_step" / "model.pte").stat().st_size
        assert row["pools"]["temp_pool"]["bytes"] == boards.pte_facts(
            lm / key[0] / "decode_step" / "model.pte").scratch_bytes
    assert [r for r in metrics["memory_fit"] if r.get("program") == "decode_step"]   # and the card shows them
