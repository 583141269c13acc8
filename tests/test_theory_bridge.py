"""Tests for w2sg.report.theory_bridge and the ``theory runs`` command.

Run folders are fabricated with the pipeline's schema (results.json, test_predictions_seed{s}.csv)
from known probabilities, and the bridge is compared with a direct ``account(KL(), ...)`` on the
same arrays, with test cross-entropies computed here with numpy, and with the run's own metrics.
One test trains tiny models through the real pipeline.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from w2sg.bregman import KL
from w2sg.commands.theory_runs import runs as runs_command
from w2sg.config import DataConfig, ModelSettings, ObjectiveSettings, RunConfig, TeacherSettings
from w2sg.report.theory_bridge import (
    BRIDGE_TERMS,
    MIN_COMMON_IDS,
    BridgeResult,
    theory_from_runs,
    write_bridge_tables,
)
from w2sg.theory.accounting import account, cross_entropy_accounting

# -------------------------------------------------------------------------------------------------
# Fabricated runs


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def make_columns(rng, ids, y, objectives=("ce",), *, scale=1.0):
    """Known test probabilities: a weak teacher, a ceiling and one student per objective."""
    n = len(ids)
    sign = 2 * y - 1
    cols = {"id": list(ids), "label": y.astype(float), "weak": _sigmoid(scale * (0.6 * sign + rng.normal(0, 1, n)))}
    cols["strong_ceiling"] = _sigmoid(scale * (1.5 * sign + rng.normal(0, 1, n)))
    for label in objectives:
        cols[label] = _sigmoid(scale * (1.0 * sign + rng.normal(0, 1, n)))
    return cols


def fab_run(root: Path, columns_by_seed: dict[int, dict], *, objectives=("ce",), name="fab", fixed_test=True,
            smoothing=1.0, n_teachers=1, weak="offline:minilm-l3", strong="offline:minilm-l6",
            task="toy", shuffle_seed: int | None = None) -> str:
    """Write runs/<hash>/results.json and predictions as Experiment.run does; returns the hash."""
    objs = [ObjectiveSettings(name=o.split("(")[0], params=_params(o)) for o in objectives]
    cfg = RunConfig(
        name=name,
        data=DataConfig(task=task, fixed_test=fixed_test),
        weak=ModelSettings(source=weak),
        strong=ModelSettings(source=strong),
        teacher=TeacherSettings(n_teachers=n_teachers, smoothing=smoothing),
        objectives=objs,
        seeds=sorted(columns_by_seed),
    )
    run_dir = root / "runs" / cfg.config_hash()
    (run_dir / "predictions").mkdir(parents=True, exist_ok=True)
    per_seed = []
    for seed, cols in sorted(columns_by_seed.items()):
        frame = pd.DataFrame(cols)
        if shuffle_seed is not None:
            frame = frame.sample(frac=1.0, random_state=shuffle_seed + seed).reset_index(drop=True)
        frame.to_csv(run_dir / "predictions" / f"test_predictions_seed{seed}.csv", index=False)
        y = np.asarray(cols["label"])
        models = {}
        for label in ["weak", "strong_ceiling", *[o.label for o in objs]]:
            p = np.clip(pd.to_numeric(pd.Series(cols[label]), errors="coerce").to_numpy(), 1e-12, 1 - 1e-12)
            models[label] = {"cross_entropy": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))}
        per_seed.append({"seed": seed, "sizes": {"test": len(y)}, "models": models, "curves": {}})
    results = {"config_hash": cfg.config_hash(), "config": cfg.model_dump(mode="json"),
               "task": {"name": task, "kind": "classification", "report": None}, "seeds": per_seed,
               "summary": {}, "wall_seconds": 0.0, "environment": {}}
    (run_dir / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return cfg.config_hash()


def _params(label: str) -> dict[str, float]:
    if "(" not in label:
        return {}
    inner = label[label.index("(") + 1 : -1]
    return {k: float(v) for k, v in (item.split("=") for item in inner.split(","))}


def two_class(p):
    p = np.asarray(p, dtype=float)
    return np.stack([1 - p, p], axis=-1)


def numpy_ce(p, y):
    """Mean binary cross-entropy against hard labels (numpy, independent of the package)."""
    p = np.asarray(p, dtype=float)
    return float(-np.mean(np.where(y == 1, np.log(p), np.log1p(-p))))




@pytest.fixture()
def store(tmp_path):
    """Two runs (different names, so different hashes) x two seeds on one shared test set of 40 ids."""
    rng = np.random.default_rng(0)
    ids = [f"x{i:03d}" for i in range(40)]
    y = rng.integers(0, 2, 40)
    data = {}
    for name in ("a", "b"):
        cols = {s: make_columns(rng, ids, y) for s in (0, 1)}
        data[fab_run(tmp_path, cols, name=name)] = cols
    return tmp_path, data, ids, y


def _stack(data, pairs, column, ids):
    """[P, N] probabilities of ``column`` for the given (run, seed) pairs, rows sorted by id."""
    out = []
    for run, seed in pairs:
        frame = pd.DataFrame(data[run][seed]).set_index("id")
        out.append(frame.loc[sorted(ids), column].to_numpy(dtype=float))
    return np.array(out)


# -------------------------------------------------------------------------------------------------
# Exactness against the accounting and numpy


def test_bridge_equals_direct_account_on_the_same_arrays(store):
    root, data, ids, y = store
    (result,) = theory_from_runs(root)
    assert result.n_pairs == 4 and result.n_inputs == 40 and result.n_dropped == 0 and result.n_clipped == 0
    assert set(result.pairs) == {(run, s) for run in data for s in (0, 1)}
    teacher = _stack(data, result.pairs, "weak", ids)
    student = _stack(data, result.pairs, "ce", ids)
    truth = two_class(pd.Series(y, index=ids).loc[sorted(ids)].to_numpy())
    direct = account(KL(), two_class(teacher), two_class(student), truth)
    assert result.accounting == direct  # exact: same law, same arrays
    ce = cross_entropy_accounting(two_class(teacher), two_class(student), truth)
    assert result.cross_entropy == ce


def test_observed_gain_is_the_difference_of_test_cross_entropies(store):
    root, data, ids, y = store
    (result,) = theory_from_runs(root)
    ce_teacher = np.mean([numpy_ce(data[r][s]["weak"], y) for r, s in result.pairs])
    ce_student = np.mean([numpy_ce(data[r][s]["ce"], y) for r, s in result.pairs])
    assert result.teacher_risk == pytest.approx(ce_teacher, rel=1e-12)
    assert result.student_risk == pytest.approx(ce_student, rel=1e-12)
    assert result.observed_gain == pytest.approx(ce_teacher - ce_student, rel=1e-10, abs=1e-12)
    # the forward KL risk with one-hot truth is the CE of Corollary 5.1
    assert result.cross_entropy.ce_truth_teacher == pytest.approx(ce_teacher, rel=1e-12)
    # and the run's own stored metric (the pipeline's cross_entropy)
    stored = np.mean([json.loads((root / "runs" / r / "results.json").read_text())["seeds"][s]["models"]["weak"]
                      ["cross_entropy"] for r, s in result.pairs])
    assert result.teacher_risk == pytest.approx(stored, rel=1e-12)


def test_identity_is_exact_and_bound_holds(store):
    root, data, ids, y = store
    (result,) = theory_from_runs(root)
    assert abs(result.identity_residual) < 1e-12
    assert result.exact_gain == pytest.approx(result.observed_gain, abs=1e-12)
    # Dirac posterior: the dual posterior mean is the teacher itself, so the remainder is
    # E <f* - Fs, log Fw - log Fs>, computed here by hand.
    teacher, student = _stack(data, result.pairs, "weak", ids), _stack(data, result.pairs, "ce", ids)
    truth = two_class(pd.Series(y, index=ids).loc[sorted(ids)].to_numpy())
    fw, fs = two_class(teacher), two_class(student)
    remainder = np.mean(np.sum((truth[None] - fs) * (np.log(fw) - np.log(fs)), axis=-1))
    assert result.forward_remainder == pytest.approx(remainder, rel=1e-12, abs=1e-14)
    misfit = np.mean(np.sum(fs * (np.log(fs) - np.log(fw)), axis=-1))
    assert result.reverse_misfit == pytest.approx(misfit, rel=1e-12)
    eps1 = math.sqrt(np.mean(np.sum((truth[None] - fs) ** 2, -1))) * math.sqrt(
        np.mean(np.sum((np.log(fw) - np.log(fs)) ** 2, -1)))
    assert result.epsilon_1 == pytest.approx(eps1, rel=1e-12)
    assert result.predicted_gain == pytest.approx(misfit - eps1, rel=1e-12)
    assert result.predicted_gain <= result.observed_gain
    assert result.student_risk <= result.student_risk_bound and result.bound_slack >= 0
    assert math.isinf(result.accounting.teacher_reverse_risk)  # one-hot truth (documented)


def test_independent_equals_product_law_accounting(store):
    root, data, ids, y = store
    (result,) = theory_from_runs(root, independent=True)
    teacher = two_class(_stack(data, result.pairs, "weak", ids))
    student = two_class(_stack(data, result.pairs, "ce", ids))
    truth = two_class(pd.Series(y, index=ids).loc[sorted(ids)].to_numpy())
    assert result.independent and result.accounting == account(KL(), teacher, student, truth, independent=True)
    # product-law misfit by brute force over every (teacher, student) combination
    brute = np.mean([np.mean(np.sum(s * (np.log(s) - np.log(t)), -1)) for t in teacher for s in student])
    assert result.reverse_misfit == pytest.approx(brute, rel=1e-10)
    assert abs(result.identity_residual) < 1e-12


def test_alignment_is_by_id_when_rows_are_shuffled(store, tmp_path):
    root, data, ids, y = store
    (ordered,) = theory_from_runs(root)
    other = tmp_path / "shuffled"
    for name, run in zip(("a", "b"), data, strict=True):
        assert fab_run(other, data[run], name=name, shuffle_seed=7) == run
    frame = pd.read_csv(other / "runs" / run / "predictions" / "test_predictions_seed0.csv", dtype={"id": str})
    assert list(frame["id"]) != sorted(ids)  # really shuffled
    (shuffled,) = theory_from_runs(other)
    assert shuffled.to_dict() == ordered.to_dict()


def test_common_ids_only_when_test_sets_partly_overlap(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"e{i}" for i in range(50)]
    y = rng.integers(0, 2, 50)
    full = make_columns(rng, ids, y)
    part = {k: (v[10:] if k != "label" else v[10:]) for k, v in make_columns(rng, ids, y).items()}
    fab_run(tmp_path, {0: full}, name="a")
    fab_run(tmp_path, {0: part}, name="b")
    (result,) = theory_from_runs(tmp_path)
    assert result.n_inputs == 40 and result.n_dropped == 10
    common = ids[10:]
    expected = np.mean([numpy_ce(pd.Series(c["weak"], index=c["id"]).loc[common].to_numpy(),
                                pd.Series(y, index=ids).loc[common].to_numpy()) for c in (full, part)])
    assert result.teacher_risk == pytest.approx(expected, rel=1e-12)


def test_disjoint_test_sets_are_a_clear_error(tmp_path):
    rng = np.random.default_rng(1)
    cols = {}
    for seed in (0, 1):
        ids = [f"s{seed}-{i}" for i in range(30)]
        cols[seed] = make_columns(rng, ids, rng.integers(0, 2, 30))
    run = fab_run(tmp_path, cols, fixed_test=False)
    with pytest.raises(ValueError, match=r"fixed_test=true") as info:
        theory_from_runs(tmp_path)
    assert run in str(info.value) and "share only 0" in str(info.value)


def test_few_common_ids_are_an_error(tmp_path):
    rng = np.random.default_rng(2)
    n = MIN_COMMON_IDS - 1
    ids = [f"i{k}" for k in range(n)]
    fab_run(tmp_path, {0: make_columns(rng, ids, rng.integers(0, 2, n))})
    with pytest.raises(ValueError, match=f"share only {n} test"):
        theory_from_runs(tmp_path)


# -------------------------------------------------------------------------------------------------
# Grouping, filtering, edges


def test_group_by_seed_and_objective_filter(tmp_path):
    rng = np.random.default_rng(4)
    ids = [f"q{i}" for i in range(25)]
    y = rng.integers(0, 2, 25)
    objectives = ("ce", "rce", "aux(warmup_frac=0.2)")
    cols = {s: make_columns(rng, ids, y, objectives) for s in (0, 1, 2)}
    run = fab_run(tmp_path, cols, objectives=objectives)
    every = theory_from_runs(tmp_path)
    assert sorted(r.objective for r in every) == sorted(objectives)
    by_seed = theory_from_runs(tmp_path, objective="rce", group_by="seed")
    assert [r.seed for r in by_seed] == [0, 1, 2] and all(r.n_pairs == 1 for r in by_seed)
    for r in by_seed:
        assert r.pairs == ((run, r.seed),)
        assert r.observed_gain == pytest.approx(numpy_ce(cols[r.seed]["weak"], y) - numpy_ce(cols[r.seed]["rce"], y),
                                                rel=1e-10)
    # a single pair: the pooled risk is the mean of the per-seed risks
    (pooled,) = theory_from_runs(tmp_path, objective="rce")
    assert pooled.student_risk == pytest.approx(np.mean([r.student_risk for r in by_seed]), rel=1e-12)
    (aux,) = theory_from_runs(tmp_path, objective="aux")  # a name matches every parameter setting
    assert aux.objective == "aux(warmup_frac=0.2)"
    with pytest.raises(ValueError, match=r"objective 'sl'.*Objectives found: \['aux"):
        theory_from_runs(tmp_path, objective="sl")


def test_laws_are_split_by_smoothing_and_teachers(tmp_path):
    rng = np.random.default_rng(5)
    ids = [f"k{i}" for i in range(30)]
    y = rng.integers(0, 2, 30)
    fab_run(tmp_path, {0: make_columns(rng, ids, y)}, smoothing=1.0)
    fab_run(tmp_path, {0: make_columns(rng, ids, y)}, smoothing=0.5)
    fab_run(tmp_path, {0: make_columns(rng, ids, y)}, n_teachers=4)
    results = theory_from_runs(tmp_path)
    assert sorted((r.smoothing, r.n_teachers) for r in results) == [(0.5, 1), (1.0, 1), (1.0, 4)]
    assert all(r.n_pairs == 1 for r in results)


def test_saturated_probabilities_are_clipped_and_finite(tmp_path):
    rng = np.random.default_rng(6)
    ids = [f"z{i}" for i in range(30)]
    y = rng.integers(0, 2, 30)
    cols = make_columns(rng, ids, y, scale=80.0)  # sigmoid of |z| > 37 is exactly 0 or 1
    cols["ce"][0] = 1.0 - y[0]  # confidently wrong
    fab_run(tmp_path, {0: cols})
    (result,) = theory_from_runs(tmp_path)
    assert result.n_clipped > 0
    values = [v for k, v in result.summary().items() if k in BRIDGE_TERMS]
    assert all(math.isfinite(v) for v in values)
    from w2sg.metrics import cross_entropy

    assert result.student_risk == pytest.approx(cross_entropy(cols["ce"], y), rel=1e-9)
    assert result.student_risk >= -math.log(1e-12) / 30 * 0.99  # the wrong one costs ~27.6 nats
    assert abs(result.identity_residual) < 1e-9 and result.bound_slack >= 0


@pytest.mark.parametrize(
    "column, value, match",
    [("weak", np.nan, r"row 3, field 'weak' must be a probability"),
     ("ce", 1.5, r"row 3, field 'ce' must be a probability"),
     ("label", 2, r"row 3, field 'label' must be 0 or 1"),
     ("weak", "n/a!", r"row 3, field 'weak' must be a number. Got 'n/a!'")],
)
def test_malformed_predictions_name_file_row_and_field(tmp_path, column, value, match):
    rng = np.random.default_rng(7)
    ids = [f"m{i}" for i in range(30)]
    cols = make_columns(rng, ids, rng.integers(0, 2, 30))
    cols[column] = list(cols[column])
    cols[column][3] = value
    run = fab_run(tmp_path, {0: cols})
    with pytest.raises(ValueError, match=match) as info:
        theory_from_runs(tmp_path)
    assert run in str(info.value) and "test_predictions_seed0.csv" in str(info.value)


def test_duplicate_ids_and_conflicting_labels(tmp_path):
    rng = np.random.default_rng(8)
    ids = [f"d{i}" for i in range(30)]
    y = rng.integers(0, 2, 30)
    dup = make_columns(rng, ids, y)
    dup["id"][5] = dup["id"][4]
    fab_run(tmp_path / "dup", {0: dup})
    with pytest.raises(ValueError, match=r"row 5, field 'id': duplicate example id 'd4'"):
        theory_from_runs(tmp_path / "dup")
    flipped = y.copy()
    flipped[2] = 1 - flipped[2]
    fab_run(tmp_path / "lab", {0: make_columns(rng, ids, y)}, name="a")
    fab_run(tmp_path / "lab", {0: make_columns(rng, ids, flipped)}, name="b")
    with pytest.raises(ValueError, match=r"field 'label': example 'd2'"):
        theory_from_runs(tmp_path / "lab")


def test_argument_errors(store):
    root, *_ = store
    with pytest.raises(ValueError, match=r"`group_by` of theory_from_runs must be one of 'none', 'seed'"):
        theory_from_runs(root, group_by="subset")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"`independent` of theory_from_runs must be a bool. Got int"):
        theory_from_runs(root, independent=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"`objective` of theory_from_runs must be a str .* Got int"):
        theory_from_runs(root, objective=3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no runs/ folder"):
        theory_from_runs(root / "nowhere")
    with pytest.raises(FileNotFoundError, match="Sweep 'nope'"):
        theory_from_runs(root, sweep="nope")


def test_sweep_manifest_selects_runs(store):
    root, data, ids, y = store
    first = sorted(data)[0]
    (root / "sweeps").mkdir()
    (root / "sweeps" / "one.json").write_text(json.dumps({"run_hashes": [first]}))
    (result,) = theory_from_runs(root, sweep="one")
    assert result.runs == (first,) and result.n_pairs == 2


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.1, 60.0), st.integers(1, 3))
def test_identity_and_bound_hold_for_any_predictions(seed, scale, n_seeds):
    rng = np.random.default_rng(seed)
    ids = [f"h{i}" for i in range(24)]
    y = rng.integers(0, 2, 24)
    with tempfile.TemporaryDirectory() as folder:
        fab_run(Path(folder), {s: make_columns(rng, ids, y, scale=scale) for s in range(n_seeds)})
        for independent in (False, True):
            (result,) = theory_from_runs(folder, independent=independent)
            scale_ = max(1.0, result.teacher_risk, result.reverse_misfit)
            assert abs(result.identity_residual) <= 1e-9 * scale_
            assert result.student_risk <= result.student_risk_bound + 1e-9 * scale_
            assert result.predicted_gain <= result.observed_gain + 1e-9 * scale_


# -------------------------------------------------------------------------------------------------
# Output: dict, tables, command


def test_to_dict_round_trips_through_json(store):
    root, *_ = store
    (result,) = theory_from_runs(root)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["observed_gain"] == pytest.approx(result.observed_gain)
    assert data["accounting"]["teacher_reverse_risk"] == math.inf  # Infinity survives json
    assert "accounting" not in data["cross_entropy"]
    assert data["cross_entropy"]["ce_gain"] == pytest.approx(result.observed_gain, rel=1e-12)
    assert [tuple(p.values()) for p in data["pairs"]] == [tuple(p) for p in result.pairs]
    assert set(BRIDGE_TERMS) <= set(data)


def test_write_tables(store, tmp_path):
    root, *_ = store
    results = theory_from_runs(root, group_by="seed")
    csv_path, md_path = write_bridge_tables(results, tmp_path / "out")
    frame = pd.read_csv(csv_path)
    assert len(frame) == 2
    assert frame["observed_gain"].to_numpy() == pytest.approx([r.observed_gain for r in results], rel=1e-12)
    assert frame["acc.reverse_misfit"].to_numpy() == pytest.approx([r.reverse_misfit for r in results], rel=1e-12)
    assert frame["ce.rce_truth_teacher"].tolist() == [math.inf, math.inf]
    lines = md_path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("| task |") and len([ln for ln in lines if ln.startswith("| toy |")]) == 2
    assert "Eq. 16" in md_path.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="at least one BridgeResult"):
        write_bridge_tables([], tmp_path)
    with pytest.raises(TypeError, match="Item 0 is dict"):
        write_bridge_tables([{}], tmp_path)  # type: ignore[list-item]


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("runs")(runs_command)
    app.command("noop")(lambda: None)
    return app


def test_command_json_table_and_files(app, store, tmp_path):
    root, *_ = store
    res = CliRunner().invoke(app, ["runs", str(root), "--json"])
    assert res.exit_code == 0, res.output
    (direct,) = theory_from_runs(root)
    assert json.loads(res.output) == [json.loads(json.dumps(direct.to_dict()))]
    res = CliRunner().invoke(app, ["runs", str(root), "--objective", "ce", "--out", str(tmp_path / "o")],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "bridge.observed_gain" in res.output and "ce.ce_gain" in res.output and "epsilon_1" in res.output
    assert f"{direct.observed_gain:.6g}" in res.output
    assert (tmp_path / "o" / "theory_runs.csv").is_file() and (tmp_path / "o" / "theory_runs.md").is_file()
    res = CliRunner().invoke(app, ["runs", str(root), "--objective", "sl"])
    assert res.exit_code == 2 and "objective 'sl'" in res.output


# -------------------------------------------------------------------------------------------------
# The real pipeline on a tiny model


def test_real_pipeline_runs_satisfy_the_identities(tmp_path):
    from tiny_models import tiny_bert

    from w2sg.config import TrainSettings
    from w2sg.pipeline import run_experiment

    model_dir = tiny_bert()[0]
    rng = np.random.default_rng(0)
    rows, seen = [], set()
    pos, neg, filler = ["good", "great", "love"], ["bad", "terrible", "hate"], ["the", "movie", "food", "it", "was"]
    while len(rows) < 240:
        label = int(rng.integers(2))
        words = list(rng.choice(filler, size=4)) + [str(rng.choice(pos if label else neg))]
        rng.shuffle(words)
        text = " ".join(words)
        if text not in seen:
            seen.add(text)
            rows.append({"text": text, "label": label if rng.random() > 0.1 else 1 - label})
    task = tmp_path / "task.jsonl"
    task.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    head = TrainSettings(epochs=60, lr=0.05, weight_decay=1e-3, schedule="constant")
    cfg = RunConfig(
        name="bridge",
        data=DataConfig(task=str(task), n_weak=40, n_w2s=80, n_test=60, max_length=16, fixed_test=True),
        weak=ModelSettings(source=str(model_dir), finetune="features", train=head),
        strong=ModelSettings(source=str(model_dir), finetune="features", train=head),
        objectives=[ObjectiveSettings(name="ce"), ObjectiveSettings(name="rce")],
        seeds=[0, 1],
    )
    data = cfg.model_dump(mode="json")
    data["runtime"] = {"output_dir": str(tmp_path / "store"), "progress": False}
    results = run_experiment(RunConfig.model_validate(data))
    bridge = theory_from_runs(tmp_path / "store")
    assert sorted(r.objective for r in bridge) == ["ce", "rce"]
    for r in bridge:
        assert isinstance(r, BridgeResult) and r.n_pairs == 2 and r.n_inputs == 60 and r.n_dropped == 0
        # Eq. (16) is exact on the real outputs; Eq. (4) bounds the student's risk.
        assert abs(r.identity_residual) < 1e-8
        assert abs(r.cross_entropy.forward_bound - r.cross_entropy.accounting.epsilon_1 + r.forward_remainder
                   - r.cross_entropy.ce_truth_student) < 1e-8  # Cor. 5.1 with the exact remainder
        assert r.student_risk <= r.student_risk_bound + 1e-12
        # the risks are the pipeline's own test cross-entropies, averaged over the seeds
        for label, risk in (("weak", r.teacher_risk), (r.objective, r.student_risk)):
            stored = np.mean([s["models"][label]["cross_entropy"] for s in results["seeds"]])
            assert risk == pytest.approx(stored, rel=1e-9)
