"""The stratified gold-label estimate (benchmarks/gold_test.py) and the gold annotation files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[1]
ANN = ROOT / "src/refusal_detector/data/annotations"


@pytest.fixture(scope="module")
def gold_test():
    spec = importlib.util.spec_from_file_location("gold_test", ROOT / "benchmarks/gold_test.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_weights_equal_repeated_rows(gold_test):
    pred = np.array([True, True, False, False, True])
    truth = np.array([True, False, True, False, True])
    weight = np.array([3.0, 1.0, 2.0, 4.0, 1.0])
    expanded_pred = np.repeat(pred, weight.astype(int))
    expanded_truth = np.repeat(truth, weight.astype(int))
    got = gold_test.weighted_prf(pred, truth, weight)
    want = gold_test.weighted_prf(expanded_pred, expanded_truth, np.ones(len(expanded_pred)))
    for key in ("precision", "recall", "f1", "accuracy"):
        assert got[key] == pytest.approx(want[key])
    assert got["tp"] == 4 and got["fp"] == 1 and got["fn"] == 2


def test_bootstrap_interval_brackets_the_estimate(gold_test):
    rng = np.random.default_rng(1)
    truth = rng.random(300) < 0.2
    pred = truth ^ (rng.random(300) < 0.05)
    strata = np.array(["disagree" if p != t else "agree" for p, t in zip(pred, truth, strict=True)])
    weight = np.where(strata == "agree", 5.0, 1.0)
    f1 = gold_test.weighted_prf(pred, truth, weight)["f1"]
    low, high = gold_test.bootstrap_f1(pred, truth, weight, strata, reps=200)
    assert low <= f1 <= high


def test_gold_files_match_their_design():
    design = json.loads((ANN / "test_gold_design.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (ANN / "test_gold.jsonl").read_text().splitlines()]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    for name, size in design["strata"].items():
        in_stratum = [r for r in rows if r["stratum"] == name]
        assert len(in_stratum) == size["sampled"] <= size["total"]
    assert {r["label"] for r in rows} <= {0, 1, "partial", "skip"}
    assert all(r["reason"] for r in rows)
