"""Task registry and hub loaders against local ``datasets.Dataset`` fixtures with the hub's columns."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from w2sg.data import TaskData, UnknownTaskError, available_tasks, load_task, register_task
from w2sg.data import tasks as tasks_module


def fake_hub(columns: dict[str, list[Any]]) -> tuple[Callable[..., Any], list[tuple]]:
    """A ``load_dataset`` stand-in returning a local ``datasets.Dataset``; records its calls."""
    import datasets

    calls: list[tuple] = []

    def load_dataset(dataset_id: str, **kwargs: Any) -> Any:
        calls.append((dataset_id, kwargs))
        return datasets.Dataset.from_dict(columns)

    return load_dataset, calls


SCIQ = {
    "question": [f"What is thing {i}?" for i in range(400)],
    "distractor1": [f"d1-{i}" for i in range(400)],
    "distractor2": [f"d2-{i}" for i in range(400)],
    "distractor3": [f"d3-{i}" for i in range(400)],
    "correct_answer": [f"right-{i}" for i in range(400)],
    "support": ["" for _ in range(400)],
}


def test_registry_names_and_unknown_name_suggests() -> None:
    assert set(available_tasks()) >= {
        "sciq", "amazon_polarity", "twitter_sentiment", "tweets", "hh_rlhf", "cai_harmless", "boolq", "cosmos_qa",
    }
    with pytest.raises(UnknownTaskError, match=r"Did you mean 'sciq'\?.*Available tasks: \[") as info:
        load_task("sciqq")
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(KeyError, match="amazon_polarity"):
        load_task("amazon")
    with pytest.raises(TypeError, match=r"does not take option\(s\) \['epochs'\]. Allowed options: \["):
        load_task("sciq", epochs=2)


def test_register_rejects_duplicates_and_bad_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_task("sciq", tasks_module.sciq)
    with pytest.raises(ValueError, match="without '/'"):
        register_task("a/b", tasks_module.sciq)
    name = "test_only_task"
    register_task(name, lambda *, n=2: TaskData(name, "classification", ()))
    try:
        assert name in available_tasks()
        assert load_task(name, n=3).name == name
    finally:
        tasks_module._REGISTRY.pop(name)


def test_sciq_conversion_matches_openai_rule() -> None:
    loader, calls = fake_hub(SCIQ)
    task = load_task("sciq", seed=4, load_dataset=loader, split=["train", "test"])
    assert calls == [("allenai/sciq", {"split": "train"}), ("allenai/sciq", {"split": "test"})]
    # The same rows under two splits: every kept text follows the rule, repeats are dropped.
    assert task.report.rows_read == 800 and task.report.kept + task.report.counts.get("duplicate", 0) == 800
    for ex in task.examples:
        question, answer = ex.texts[0].split(" A: ")
        i = int(question.removeprefix("Q: What is thing ").removesuffix("?"))
        if ex.label == 1:
            assert answer == f"right-{i}"
        else:
            assert answer in {f"d1-{i}", f"d2-{i}", f"d3-{i}"}
    single = load_task("sciq", seed=4, load_dataset=fake_hub(SCIQ)[0])
    n = len(SCIQ["question"])
    rng = np.random.default_rng(4)
    correct, which = rng.random(n) < 0.5, rng.integers(0, 3, size=n)
    expected = [
        (f"Q: What is thing {i}? A: " + (f"right-{i}" if correct[i] else f"d{which[i] + 1}-{i}"), int(correct[i]))
        for i in range(n)
    ]
    assert [(ex.texts[0], ex.label) for ex in single.examples] == expected
    labels = single.labels
    assert abs(labels.mean() - 0.5) < 4 * 0.5 / np.sqrt(n)
    distractors = {ex.texts[0].split(" A: ")[1][:2] for ex in single.examples if ex.label == 0}
    assert distractors == {"d1", "d2", "d3"}
    other = load_task("sciq", seed=5, load_dataset=fake_hub(SCIQ)[0])
    assert other.labels.tolist() != labels.tolist()


def test_sciq_missing_column_names_columns() -> None:
    cols = {k: v for k, v in SCIQ.items() if k != "distractor3"}
    with pytest.raises(ValueError, match=r"allenai/sciq\[train\]: missing column\(s\) \['distractor3'\]"):
        load_task("sciq", load_dataset=fake_hub(cols)[0])


def test_amazon_polarity_format_and_labels() -> None:
    loader, calls = fake_hub({"title": ["Great", "Bad", ""], "content": ["works well", "broke", ""], "label": [1, 0, 1]})
    task = load_task("amazon_polarity", load_dataset=loader)
    assert calls[0][0] == "fancyzhx/amazon_polarity"
    assert [(ex.texts[0], ex.label) for ex in task.examples] == [("Great works well", 1), ("Bad broke", 0)]
    assert task.report.counts == {"empty_text": 1}
    bad, _ = fake_hub({"title": ["a"], "content": ["b"], "label": [2]})
    with pytest.raises(ValueError, match=r"fancyzhx/amazon_polarity\[train\] row 1: field 'label'.*Got 2"):
        load_task("amazon_polarity", load_dataset=bad)


def test_boolq_format_and_bool_answer() -> None:
    loader, _ = fake_hub({"question": ["is it?", "is not?"], "passage": ["P1", "P2"], "answer": [True, False]})
    task = load_task("boolq", load_dataset=loader, split="validation")
    assert [(ex.texts[0], ex.label) for ex in task.examples] == [
        ("Passage: P1\nQuestion: is it?", 1), ("Passage: P2\nQuestion: is not?", 0),
    ]


def test_cosmos_qa_rule() -> None:
    n = 300
    columns = {
        "context": [f"ctx {i}" for i in range(n)],
        "question": [f"q {i}" for i in range(n)],
        "answer0": [f"a0-{i}" for i in range(n)],
        "answer1": [f"a1-{i}" for i in range(n)],
        "answer2": [f"a2-{i}" for i in range(n)],
        "answer3": ["None of the above choices ." if i % 10 == 0 else f"a3-{i}" for i in range(n)],
        "label": [3 if i % 10 == 0 else i % 3 for i in range(n)],
    }
    task = load_task("cosmos_qa", seed=1, load_dataset=fake_hub(columns)[0])
    assert len(task) == n
    for ex in task.examples:
        context, question, answer = ex.texts[0].split("\n")
        i = int(context.removeprefix("Context: ctx "))
        assert question == f"Question: q {i}"
        answer = answer.removeprefix("Answer: ")
        true_answer = columns[f"answer{columns['label'][i]}"][i]
        if i % 10 == 0:
            assert ex.label == 0 and answer != true_answer  # "None of the above" is never shown as true
        if ex.label == 1:
            assert answer == true_answer
        else:
            assert answer != true_answer and answer in {columns[f"answer{k}"][i] for k in range(4)}
    normal = [ex.label for ex in task.examples if int(ex.texts[0].split("\n")[0][len("Context: ctx "):]) % 10]
    assert abs(np.mean(normal) - 0.5) < 4 * 0.5 / np.sqrt(len(normal))


def test_hh_rlhf_and_cai_harmless_pairs() -> None:
    chosen = [f"\n\nHuman: q{i}\n\nAssistant: good {i}" for i in range(100)]
    rejected = [f"\n\nHuman: q{i}\n\nAssistant: bad {i}" for i in range(100)]
    loader, calls = fake_hub({"chosen": chosen, "rejected": rejected})
    task = load_task("hh_rlhf", seed=2, load_dataset=loader)
    assert calls == [("Anthropic/hh-rlhf", {"split": "train", "data_dir": "helpful-base"})]
    assert task.kind == "pairwise" and len(task) == 100
    assert [ex.chosen for ex in task.examples] == chosen
    expected = (np.random.default_rng(2).random(100) < 0.5).astype(int)
    assert task.labels.tolist() == expected.tolist()

    messages = lambda q, a: [{"role": "user", "content": q}, {"role": "assistant", "content": a}]  # noqa: E731
    loader, calls = fake_hub({
        "chosen": [messages("hi", "hello"), messages("x", "same")],
        "rejected": [messages("hi", "go away"), messages("x", "same")],
        "prompt": ["hi", "x"],
    })
    task = load_task("cai_harmless", load_dataset=loader)
    assert calls[0] == ("HuggingFaceH4/cai-conversation-harmless", {"split": "train_prefs"})
    assert [ex.chosen for ex in task.examples] == ["\n\nHuman: hi\n\nAssistant: hello"]
    assert task.report.counts == {"identical_pair": 1}


def test_hub_loader_reads_local_path_with_hub_columns(tmp_path: Path) -> None:
    import datasets

    path = tmp_path / "sciq.parquet"
    datasets.Dataset.from_dict(SCIQ).to_parquet(str(path))
    from_file = load_task("sciq", seed=9, path=path)
    from_hub = load_task("sciq", seed=9, load_dataset=fake_hub(SCIQ)[0])
    assert [ex.id for ex in from_file.examples] == [ex.id for ex in from_hub.examples]


def test_twitter_sentiment_kaggle_csv(tmp_path: Path) -> None:
    lines = [
        "1,Borderlands,Positive,I love it",
        "2,Borderlands,Negative,I hate it",
        "3,Borderlands,Neutral,it exists",
        "4,Borderlands,Irrelevant,lunch",
        "5,Borderlands,Positive,so good",
        "6,Borderlands,Positive,so good",
        "7,Borderlands,Positive,great fun",
        "8,Borderlands,Negative,great fun",
        "9,Borderlands,Negative,awful",
        "10,Borderlands,Positive,amazing",
    ]
    path = tmp_path / "twitter_training.csv"
    path.write_text("\n".join(lines) + "\n")
    task = load_task("twitter_sentiment", path=path, seed=0)
    counts = task.report.counts
    assert counts["label_filtered"] == 2 and counts["duplicate"] == 1 and counts["conflicting_labels"] == 2
    # Positives left: "I love it", "so good", "amazing" (3); negatives: "I hate it", "awful" (2).
    assert task.class_counts == {0: 2, 1: 2} and counts["class_balance"] == 1
    with pytest.raises(ValueError, match="`path` or `dataset_id` of twitter_sentiment must be given"):
        load_task("twitter_sentiment")
    bad = tmp_path / "bad.csv"
    bad.write_text("1,B,Mixed,meh\n")
    with pytest.raises(ValueError, match=r"bad\.csv row 1: field 'sentiment' must be one of the label_map keys"):
        load_task("twitter_sentiment", path=bad)


def test_twitter_sentiment_hub_copy() -> None:
    loader, calls = fake_hub({"tweet": ["good", "bad", "meh"], "sentiment": ["Positive", "Negative", "Neutral"]})
    task = load_task("twitter_sentiment", dataset_id="someone/twitter-entity", text_column="tweet", load_dataset=loader)
    assert calls[0][0] == "someone/twitter-entity"
    assert sorted((ex.texts[0], ex.label) for ex in task.examples) == [("bad", 0), ("good", 1)]


SHARED = Path(os.environ.get("W2SG_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
HH = SHARED / "data"


@pytest.mark.parametrize("subset", ["hh-helpful", "hh-harmless"])
def test_real_hh_files(subset: str) -> None:
    directory = HH / subset
    if not (directory / "test.jsonl").is_file():
        pytest.skip(f"shared HH data not found at {directory} (set W2SG_SHARED_DIR)")
    from w2sg.data import load_split_tasks, load_splits

    tasks = load_split_tasks(directory, seed=0)
    for name, task in tasks.items():
        assert task.kind == "pairwise"
        assert task.report.rows_read == 4000, name
        assert task.report.kept + task.report.n_dropped == 4000
        assert set(task.report.counts) <= {"identical_pair"}
        assert all(ex.chosen.startswith("\n\nHuman:") for ex in task.examples[:50])
    splits = load_splits(directory, n_weak=1000, n_w2s=1000, n_test=1001, seed=0)
    assert splits.sizes == {"weak": 1000, "w2s": 1000, "test": 1001}
    assert sum(ex.label for ex in splits.weak) == 500
    assert sum(ex.label for ex in splits.test) in (500, 501)
    full = load_splits(directory, n_weak=None, n_w2s=None, n_test=None, seed=1)
    assert full.sizes == {name: len(task) for name, task in tasks.items()}
    assert abs(2 * sum(ex.label for ex in full.w2s) - len(full.w2s)) <= 1
