"""Tests for w2sg.report: run collection, Table 1, Figures 1-6, the run summary and the command.

Runs are fabricated with the pipeline's results.json / predictions schema and deterministic
synthetic numbers, so nothing is trained.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from w2sg.config import ModelSettings, ObjectiveSettings, RunConfig, TeacherSettings
from w2sg.config import DataConfig


# -------------------------------------------------------------------------------------------------
# Fabricated runs


def _rng(*parts) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(json.dumps(parts, default=str).encode()))


def _metrics(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    correct = (p >= 0.5) == (y >= 0.5)
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return {
        "accuracy": float(correct.mean()),
        "accuracy_se": float(correct.std(ddof=1) / math.sqrt(len(y))),
        "auroc": 0.5,
        "cross_entropy": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))),
        "ece": 0.01,
    }


def make_run(
    root: Path,
    *,
    task: str = "tweets",
    weak: str = "offline:minilm-l3",
    strong: str = "offline:minilm-l6",
    objectives=(("ce", {}), ("rce", {})),
    seeds=(0, 1, 2),
    smoothing: float = 1.0,
    n_teachers: int = 1,
    n_subsets: int = 1,
    subset: int = 0,
    name: str = "fab",
    skill: dict[str, float] | None = None,
    n_test: int = 60,
    curves: bool = True,
) -> Path:
    """Write runs/<hash>/results.json and predictions like Experiment.run does; returns the run folder."""
    cfg = RunConfig(
        name=name,
        data=DataConfig(task=task, n_subsets=n_subsets, subset=subset),
        weak=ModelSettings(source=weak),
        strong=ModelSettings(source=strong),
        teacher=TeacherSettings(n_teachers=n_teachers, smoothing=smoothing),
        objectives=[ObjectiveSettings(name=n, params=p) for n, p in objectives],
        seeds=list(seeds),
    )
    labels = [o.label for o in cfg.objectives]
    skill = skill or {}
    run_dir = root / "runs" / cfg.config_hash()
    (run_dir / "predictions").mkdir(parents=True, exist_ok=True)
    per_seed = []
    for seed in seeds:
        # Common test set across subsets and seeds when n_subsets > 1 (as the pipeline does).
        test_key = "common" if n_subsets > 1 else seed
        ids = [f"{task}-{test_key}-{i}" for i in range(n_test)]
        y = _rng(task, test_key).integers(0, 2, n_test).astype(float)
        columns = {"id": ids, "label": y}
        models, curves_out = {}, {}
        for label in ["weak", "strong_ceiling", *labels]:
            base = skill.get(label.split("(")[0], {"weak": 0.6, "strong_ceiling": 1.6}.get(label, 1.0))
            noise = _rng(task, weak, strong, smoothing, n_teachers, subset, seed, label).normal(0, 1.0, n_test)
            z = (2 * y - 1) * (base + 0.4 * smoothing) + noise
            p = 1 / (1 + np.exp(-z))
            columns[label] = p
            models[label] = _metrics(p, y)
            models[label]["accuracy_low_confidence"] = models[label]["accuracy"] - 0.05
            if label not in ("weak", "strong_ceiling"):
                models[label]["agreement_with_teacher"] = 0.9
            steps = np.arange(1, 11)
            scale = 2.0 if label.startswith("ce") else 1.0
            curves_out[label] = [
                {"step": int(s), "loss": float(1 / s), "grad_norm": float(scale / s + 0.01 * seed),
                 "param_distance": float(scale * (1 - smoothing / 2) * np.sqrt(s)), "gdv": float(0.1 * scale + 0.01 * s)}
                for s in steps
            ] if curves else [{"epoch": 0, "loss": 0.5}]
        w, c = models["weak"]["accuracy"], models["strong_ceiling"]["accuracy"]
        for label in labels:
            models[label]["pgr"] = (models[label]["accuracy"] - w) / (c - w) if c != w else None
        pd.DataFrame(columns).to_csv(run_dir / "predictions" / f"test_predictions_seed{seed}.csv", index=False)
        pd.DataFrame({"id": [f"w{i}" for i in range(5)], "label": [0, 1, 0, 1, 1], "teacher_prob": [0.2, 0.7, 0.4, 0.9, 0.6]}).to_csv(
            run_dir / "predictions" / f"w2s_labels_seed{seed}.csv", index=False
        )
        per_seed.append({"seed": seed, "sizes": {"weak": 10, "w2s": 10, "test": n_test}, "teacher_label_accuracy": 0.8,
                         "models": models, "curves": curves_out})
    summary = {}
    for label in ["weak", "strong_ceiling", *labels]:
        acc = np.array([s["models"][label]["accuracy"] for s in per_seed])
        summary[label] = {"accuracy": {"mean": float(acc.mean()), "standard_error": float(acc.std(ddof=1) / np.sqrt(acc.size)) if acc.size > 1 else float("nan"), "n": int(acc.size)}}
    for label in labels:
        pgr = [s["models"][label]["pgr"] for s in per_seed]
        summary[label]["pgr"] = {"mean": float(np.mean(pgr)), "standard_error": float(np.std(pgr, ddof=1) / np.sqrt(len(pgr))) if len(pgr) > 1 else float("nan"), "per_seed": pgr}
    results = {"config_hash": cfg.config_hash(), "config": cfg.model_dump(mode="json"),
               "task": {"name": task, "kind": "classification", "report": None}, "seeds": per_seed,
               "summary": summary, "wall_seconds": 1.0, "environment": {}}
    (run_dir / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return run_dir


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    objs = (("ce", {}), ("rce", {}), ("aux", {"coef": 0.5}), ("aux", {"coef": 0.75}))
    make_run(root, task="hh_rlhf", weak="gpt2", strong="gpt2-medium", objectives=objs,
             skill={"rce": 1.3, "aux": 1.1})
    make_run(root, task="tweets", objectives=(("ce", {}), ("rce", {}), ("kl", {}), ("rkl", {})))
    for alpha in (0.0, 0.5):
        make_run(root, task="tweets", smoothing=alpha, objectives=(("ce", {}), ("rce", {}), ("kl", {}), ("rkl", {})))
    # Algorithm 1: 3 subsets x 2 seeds, two student sizes, single teacher and an ensemble of 3.
    for strong in ("offline:minilm-l6", "offline:smollm2-135m"):
        for n_teachers in (1, 3):
            for subset in range(3):
                make_run(root, task="tweets", strong=strong, n_subsets=3, subset=subset, seeds=(0, 1),
                         n_teachers=n_teachers, objectives=(("ce", {}),), curves=False)
    make_run(root, task="tweets", name="kd-l6-to-l3", weak="offline:minilm-l6", strong="offline:minilm-l3")
    (root / "runs" / "unfinished").mkdir()
    return root


@pytest.fixture(scope="module")
def collection(store):
    from w2sg.report.collect import collect_runs

    return collect_runs(store)


# -------------------------------------------------------------------------------------------------
# Collection


def test_collect_flattens_runs(collection, store):
    frame = collection.frame
    n_files = sum(1 for p in (store / "runs").iterdir() if (p / "results.json").is_file())
    assert len(collection.runs) == n_files == 17
    assert any("unfinished" in s for s in collection.skipped)
    hh = frame[frame["task"] == "hh_rlhf"]
    assert set(hh["model"]) == {"weak", "strong_ceiling", "ce", "rce", "aux(coef=0.5)", "aux(coef=0.75)"}
    assert hh["pair"].iloc[0] == "GPT2 → GPT2-Medium" and hh["dataset"].iloc[0] == "HH-RLHF"
    aux = hh[hh["model"] == "aux(coef=0.5)"]
    assert set(aux["objective"]) == {"aux"} and json.loads(aux["objective_params"].iloc[0]) == {"coef": 0.5}
    # Numbers come through unchanged from results.json.
    run = collection.run(hh["run"].iloc[0])
    seed1 = next(s for s in run.results["seeds"] if s["seed"] == 1)
    row = hh[(hh["seed"] == 1) & (hh["model"] == "rce")].iloc[0]
    assert row["accuracy"] == seed1["models"]["rce"]["accuracy"]
    assert row["final_param_distance"] == seed1["curves"]["rce"][-1]["param_distance"]
    assert frame.loc[frame["name"] == "kd-l6-to-l3", "distillation"].all()
    assert not frame.loc[frame["name"] != "kd-l6-to-l3", "distillation"].any()
    assert list(run.predictions(0).columns[:3]) == ["id", "label", "weak"]
    assert len(run.curve(0, "ce")) == 10


def test_collect_sweep_manifest(store, collection):
    from w2sg.report.collect import collect_runs

    chosen = [r.run_hash for r in collection.runs[:2]]
    (store / "sweeps").mkdir(exist_ok=True)
    (store / "sweeps" / "two.json").write_text(json.dumps({"name": "two", "run_hashes": chosen}))
    assert [r.run_hash for r in collect_runs(store, sweep="two").runs] == chosen
    with pytest.raises(FileNotFoundError, match="two"):
        collect_runs(store, sweep="nope")
    with pytest.raises(FileNotFoundError, match="runs/"):
        collect_runs(store / "sweeps")


# -------------------------------------------------------------------------------------------------
# Table 1


def _values(collection, task, model):
    f = collection.frame
    sub = f[(f["task"] == task) & (f["model"] == model) & (f["smoothing"] == 1.0) & (f["n_subsets"] == 1)
            & (~f["distillation"])].drop_duplicates("seed").sort_values("seed")
    return sub["seed"].to_numpy(), sub["accuracy"].to_numpy() * 100


def test_table1_cells_best_and_paired_test(collection):
    from w2sg.report.tables import build_table1

    table = build_table1(collection.frame)
    cells = table.cells
    assert table.columns == ("Weak", "CE", "RCE", "KL", "RKL", "AUX", "Strong ceiling")
    hh = cells[cells["task"] == "hh_rlhf"].set_index("column")
    for column, model in (("CE", "ce"), ("RCE", "rce"), ("Weak", "weak")):
        _, v = _values(collection, "hh_rlhf", model)
        assert hh.loc[column, "mean"] == pytest.approx(v.mean(), rel=1e-12)
        assert hh.loc[column, "standard_error"] == pytest.approx(v.std(ddof=1) / math.sqrt(v.size), rel=1e-12)
    # AUX shows the better of its two settings.
    aux = {m: _values(collection, "hh_rlhf", m)[1].mean() for m in ("aux(coef=0.5)", "aux(coef=0.75)")}
    assert hh.loc["AUX", "label"] == max(aux, key=aux.get)
    # p-value equals scipy's paired test on the same matched seeds.
    _, ce = _values(collection, "hh_rlhf", "ce")
    _, rce = _values(collection, "hh_rlhf", "rce")
    assert hh.loc["RCE", "p_value"] == pytest.approx(stats.ttest_rel(rce, ce).pvalue, rel=1e-10)
    assert math.isnan(hh.loc["CE", "p_value"])
    assert bool(hh.loc["RCE", "significant"]) == (stats.ttest_rel(rce, ce).pvalue < 0.05)
    # Exactly the best objective is marked; floor and ceiling never are.
    for _, row in cells.groupby(["dataset", "pair", "setting"]):
        objectives = row[~row["column"].isin(["Weak", "Strong ceiling"])]
        assert row[row["best"]]["column"].tolist() == [objectives.loc[objectives["mean"].idxmax(), "column"]]


def test_table1_files_contain_numbers(collection, tmp_path):
    from w2sg.report.tables import build_table1, write_table1

    table = build_table1(collection.frame)
    paths = write_table1(table, tmp_path)
    assert {p.suffix for p in paths.values()} == {".md", ".csv", ".tex"}
    best = table.cells[table.cells["best"]].iloc[0]
    text = f"{best['mean']:.2f} ± {best['standard_error']:.2f}"
    md = paths["markdown"].read_text()
    assert f"**{text}**" in md and "HH-RLHF" in md and "GPT2 → GPT2-Medium" in md
    tex = paths["latex"].read_text()
    assert r"\textbf{" + f"{best['mean']:.2f} $\\pm$ {best['standard_error']:.2f}" + "}" in tex
    assert r"\begin{tabular}" in tex and "aux(coef" not in tex.split(r"\end{tabular}")[0]
    csv = pd.read_csv(paths["csv"], keep_default_na=False)
    starred = csv[csv["best"] == "*"]
    assert len(starred) == table.cells["best"].sum()
    row = csv[(csv["task"] == "hh_rlhf") & (csv["column"] == "RCE")].iloc[0]
    cell = table.cells[(table.cells["task"] == "hh_rlhf") & (table.cells["column"] == "RCE")].iloc[0]
    assert float(row["mean"]) == pytest.approx(cell["mean"]) and float(row["p_value_vs_ce"]) == pytest.approx(cell["p_value"])


def test_table1_splits_rows_by_varied_setting(collection):
    from w2sg.report.tables import build_table1

    frame = collection.frame
    smoothing_only = frame[(frame["n_subsets"] == 1) & (frame["task"] == "tweets") & (frame["smoothing"] < 1)]
    table = build_table1(smoothing_only)
    assert sorted(set(table.cells["setting"])) == ["smoothing=0.0", "smoothing=0.5"]


def test_table1_rejects_bad_arguments(collection):
    from w2sg.report.tables import build_table1

    with pytest.raises(ValueError, match="metric"):
        build_table1(collection.frame, metric="f1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        build_table1(collection.frame, alpha=1.5)
    with pytest.raises(ValueError, match="lacks columns"):
        build_table1(pd.DataFrame({"x": [1]}))


def test_paired_p_value_edges():
    from w2sg.report.tables import paired_p_value

    a, b = [80.0, 82.0, 85.0, 81.0], [79.0, 80.5, 81.0, 80.0]
    assert paired_p_value(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert math.isnan(paired_p_value([1.0], [2.0]))
    assert math.isnan(paired_p_value([1.0, 2.0], [1.0, 2.0]))


def test_paper_table_and_comparison(collection):
    from w2sg.report.tables import build_table1, compare_with_paper, load_paper_table1

    paper = load_paper_table1()
    assert len(paper) == 6
    row = paper[(paper["dataset"] == "HH-RLHF") & (paper["weak"] == "GPT2") & (paper["strong"] == "GPT2-Medium")].iloc[0]
    assert row["ce"] == 66.15 and row["sl"] == 66.65
    table = build_table1(collection.frame)
    text = compare_with_paper(table)
    ours = table.cells[(table.cells["task"] == "hh_rlhf") & (table.cells["column"] == "CE")].iloc[0]
    assert "66.15 | " + f"{ours['mean']:.2f}" in text and "1 of 6 paper rows matched" in text
    offline = build_table1(collection.frame[collection.frame["task"] == "tweets"])
    alone = compare_with_paper(offline)
    assert "No run matches" in alone and "**95.62**" in alone


# -------------------------------------------------------------------------------------------------
# Figures


def _png_ok(paths) -> None:
    assert isinstance(paths, list), paths
    pngs = [p for p in paths if p.suffix == ".png"]
    assert pngs and all(p.stat().st_size > 1000 and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


@pytest.fixture()
def empty(tmp_path):
    from w2sg.report.collect import collect_runs

    (tmp_path / "runs").mkdir()
    return collect_runs(tmp_path)


def test_figure1_bias_variance_numbers(collection, tmp_path, empty):
    from w2sg.estimators import bias_variance_ce
    from w2sg.report.figures import bias_variance_points, figure1_bias_variance

    points, _ = bias_variance_points(collection)
    assert len(points) == 4 and set(points["n_pairs"]) == {6} and points["unbiased"].all()
    # Recompute one point by hand from the prediction files.
    f = collection.frame
    sel = f[(f["n_subsets"] == 3) & (f["n_teachers"] == 3) & (f["strong"] == "offline:minilm-l6") & (f["model"] == "ce")]
    preds = [collection.run(r).predictions(s).set_index("id") for r, s in zip(sel["run"], sel["seed"])]
    probs = np.stack([p["ce"].to_numpy() for p in preds])
    ref = bias_variance_ce(probs, preds[0]["label"].to_numpy(), unbiased=True, n_subsets=3)
    got = points[(points["strong"] == "offline:minilm-l6") & points["ensemble"]].iloc[0]
    assert got["variance"] == pytest.approx(ref.variance, rel=1e-12) and got["risk"] == pytest.approx(ref.risk)
    _png_ok(figure1_bias_variance(collection, tmp_path))
    assert (tmp_path / "figure1_bias_variance.pdf").stat().st_size > 0
    assert isinstance(figure1_bias_variance(empty, tmp_path), str)


def test_smoothing_figures(collection, tmp_path, empty):
    from w2sg.report.figures import figure_smoothing

    paths = figure_smoothing(collection, tmp_path, number=2)
    _png_ok(paths)
    table = pd.read_csv(tmp_path / "figure2_smoothing.csv")
    f = collection.frame
    ce = f[(f["task"] == "tweets") & (f["model"] == "ce") & (f["smoothing"] == 0.5) & (f["n_subsets"] == 1)
           & (~f["distillation"])]
    row = table[(table["model"] == "ce") & (table["smoothing"] == 0.5)].iloc[0]
    assert row["accuracy"] == pytest.approx(ce["accuracy"].mean() * 100)
    assert row["param_distance"] == pytest.approx(ce["final_param_distance"].mean())
    _png_ok(figure_smoothing(collection, tmp_path, number=5, objectives=("ce", "rce", "kl", "rkl"), distance=False))
    reason = figure_smoothing(collection, tmp_path, number=3, tasks=["sciq"])
    assert isinstance(reason, str) and "sciq" in reason
    assert isinstance(figure_smoothing(empty, tmp_path), str)
    with pytest.raises(ValueError, match="number"):
        figure_smoothing(collection, tmp_path, number=7)


def test_figure4_and_figure6(collection, tmp_path, empty):
    from w2sg.report.figures import figure4_gradients, figure6_distillation

    _png_ok(figure4_gradients(collection, tmp_path))
    _png_ok(figure6_distillation(collection, tmp_path))
    table = pd.read_csv(tmp_path / "figure6_distillation.csv")
    f = collection.frame
    kd = f[(f["name"] == "kd-l6-to-l3") & (f["model"] == "rce")]
    row = table[(table["model"] == "rce") & (table["metric"] == "mean_gdv")].iloc[0]
    assert row["mean"] == pytest.approx(kd["mean_gdv"].mean())
    assert isinstance(figure4_gradients(empty, tmp_path), str)
    assert isinstance(figure6_distillation(empty, tmp_path), str)
    assert "none found" in figure6_distillation(collection, tmp_path, distillation=["no-such-run"])
    with pytest.raises(ValueError, match="formats"):
        figure6_distillation(collection, tmp_path, formats=("gif",))


def test_make_report_and_command(store, tmp_path):
    from typer.testing import CliRunner

    import typer

    from w2sg.commands.report import report
    from w2sg.report.figures import make_report

    summary = make_report(store, tmp_path / "r", compare_paper=True, formats=("png",))
    assert summary.n_runs == 17
    assert set(summary.figures) == {"figure1", "figure2", "figure4", "figure5", "figure6"}
    assert "figure3" in summary.missing and "sciq" in summary.missing["figure3"]
    assert summary.tables["markdown"].read_text() == summary.markdown
    assert "matched" in summary.comparison

    small = tmp_path / "small"
    make_run(small, task="hh_rlhf", weak="gpt2", strong="gpt2-medium", seeds=(0, 1), curves=False)
    app = typer.Typer()
    app.command()(report)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["report", str(small), "--out", str(tmp_path / "c"), "--formats", "png",
                                      "--compare-paper"])
    assert result.exit_code == 0, result.output
    assert "| Dataset | Weak → Strong |" in result.output and "missing figure3" in result.output
    assert "1 of 6 paper rows matched" in result.output
    assert (tmp_path / "c" / "table1.csv").is_file()
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert bad.exit_code == 2


def test_run_summary_png(tmp_path, store, collection):
    from w2sg.report.run_summary import plot_run_summary

    run = collection.runs[0]
    path = plot_run_summary(run.results, tmp_path / "sub" / "summary.png")
    _png_ok([path])
    with pytest.raises(ValueError, match="summary"):
        plot_run_summary({"config": {}}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="strong_ceiling"):
        plot_run_summary({"summary": {"weak": {}}}, tmp_path / "x.png")


def test_runs_with_other_training_settings_are_not_averaged_together(collection):
    from w2sg.config import default_config
    from w2sg.report.collect import setup_fingerprint
    from w2sg.report.tables import build_table1

    base = default_config().model_dump(mode="json")
    same = json.loads(json.dumps(base))
    same.update(name="other", seeds=[7], objectives=[{"name": "kl", "params": {}}])
    same["teacher"]["smoothing"] = 0.5
    same["data"]["subset"] = 0
    assert setup_fingerprint(same) == setup_fingerprint(base)
    changed = json.loads(json.dumps(base))
    changed["strong"]["train"]["weight_decay"] = 0.5
    assert setup_fingerprint(changed) != setup_fingerprint(base)

    frame = collection.frame
    rows = frame[(frame["n_subsets"] == 1) & (frame["task"] == "tweets") & (frame["smoothing"] == 1.0)]
    other = rows.assign(setup="ffffff", run=rows["run"] + "-other")
    table = build_table1(pd.concat([rows, other], ignore_index=True))
    assert len(table.cells) == 2 * len(build_table1(rows).cells)
