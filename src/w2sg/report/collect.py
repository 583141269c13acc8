"""Read finished runs from the run store into one tidy table.

A run is finished when ``<root>/runs/<config-hash>/results.json`` exists (the pipeline writes it
last, atomically). :func:`collect_runs` loads every finished run under a root, or only those a sweep
manifest ``<root>/sweeps/<name>.json`` lists, and flattens them into a :class:`pandas.DataFrame` with
one row per (run, seed, model label): the config fields that experiments vary (task, weak and strong
source, teachers, smoothing, subset, objective and its parameters) beside every test metric and a
few numbers read off the training curves. Per-example predictions and full curves stay on disk and
are read on demand through :class:`RunRecord`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RunCollection",
    "RunRecord",
    "collect_runs",
    "display_model",
    "display_task",
    "model_parameters",
    "results_frame",
]

METRICS = (
    "accuracy",
    "accuracy_se",
    "auroc",
    "cross_entropy",
    "ece",
    "accuracy_low_confidence",
    "agreement_with_teacher",
    "pgr",
)

#: Paper dataset names of the task registry's names (MATH.md §8.2, Table 2).
TASK_DISPLAY = {
    "sciq": "SciQ",
    "amazon_polarity": "Amazon Polarity",
    "twitter_sentiment": "Twitter Sentiment",
    "cai_harmless": "CAI-Harmless",
    "hh_rlhf": "HH-RLHF",
    "tweets": "Tweets (CrowdFlower)",
    "boolq": "BoolQ",
    "cosmos_qa": "CosmosQA",
}

# Parameter counts of known backbones, for ordering models by size (Fig. 1) and telling
# distillation (larger weak model) apart. Names are normalised by _model_key.
_KNOWN_PARAMETERS = {
    "gpt2": 124e6,
    "gpt2-medium": 355e6,
    "gpt2-large": 774e6,
    "gpt2-xl": 1558e6,
    "offline:minilm-l3": 17.2e6,
    "offline:minilm-l6": 22.7e6,
    "offline:smollm2-135m": 134.5e6,
}
_DISPLAY = {
    "gpt2": "GPT2",
    "gpt2-medium": "GPT2-Medium",
    "gpt2-large": "GPT2-Large",
    "gpt2-xl": "GPT2-XL",
    "offline:minilm-l3": "MiniLM-L3",
    "offline:minilm-l6": "MiniLM-L6",
    "offline:smollm2-135m": "SmolLM2-135M",
}


def _model_key(source: str) -> str:
    text = str(source).strip().rstrip("/").lower()
    if text.startswith("offline:"):
        return text
    return text.rsplit("/", 1)[-1]


def display_model(source: str) -> str:
    """A short readable name of a model source (``openai-community/gpt2-medium`` -> ``GPT2-Medium``).

    Examples:
        >>> display_model("openai-community/gpt2-large"), display_model("offline:minilm-l6")
        ('GPT2-Large', 'MiniLM-L6')
    """
    key = _model_key(source)
    return _DISPLAY.get(key, str(source).rstrip("/").rsplit("/", 1)[-1])


def display_task(name: str) -> str:
    """The paper's dataset name of a task (``hh_rlhf`` -> ``HH-RLHF``); other names are kept.

    Examples:
        >>> display_task("amazon_polarity"), display_task("my_task")
        ('Amazon Polarity', 'my_task')
    """
    text = str(name)
    key = text.lower().replace("-", "_")
    if key in TASK_DISPLAY:
        return TASK_DISPLAY[key]
    return Path(text).stem if ("/" in text or "\\" in text) else text


def model_parameters(source: str) -> float | None:
    """Parameter count of a model source when known or spelled in its name (``...-135m``), else None.

    Examples:
        >>> model_parameters("gpt2-xl"), model_parameters("org/qwen-0.5b"), model_parameters("x")
        (1558000000.0, 500000000.0, None)
    """
    key = _model_key(source)
    if key in _KNOWN_PARAMETERS:
        return _KNOWN_PARAMETERS[key]
    match = re.search(r"(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", key)
    if match:
        return float(match.group(1)) * (1e6 if match.group(2) == "m" else 1e9)
    return None


@dataclass(frozen=True)
class RunRecord:
    """One finished run: its folder and the parsed ``results.json``."""

    run_hash: str
    path: Path
    results: dict[str, Any] = field(repr=False)

    @property
    def config(self) -> dict[str, Any]:
        return self.results.get("config", {})

    @property
    def name(self) -> str:
        return str(self.config.get("name", ""))

    @property
    def task(self) -> str:
        task = self.results.get("task") or {}
        return str(task.get("name") or self.config.get("data", {}).get("task", ""))

    @property
    def seeds(self) -> list[int]:
        return [int(s["seed"]) for s in self.results.get("seeds", [])]

    @property
    def labels(self) -> list[str]:
        """Model labels: ``weak``, ``strong_ceiling`` and each objective label."""
        first = (self.results.get("seeds") or [{}])[0]
        return list(first.get("models", {}))

    def predictions(self, seed: int):
        """Test predictions of ``seed``: columns id, label, weak, strong_ceiling, <objective labels>."""
        import pandas as pd

        path = self.path / "predictions" / f"test_predictions_seed{seed}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"Run {self.run_hash} has no test predictions for seed {seed} ({path}).")
        return pd.read_csv(path, dtype={"id": str})

    def w2s_labels(self, seed: int):
        """The teacher's labels of the W2S split for ``seed``: columns id, label, teacher_prob."""
        import pandas as pd

        path = self.path / "predictions" / f"w2s_labels_seed{seed}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"Run {self.run_hash} has no W2S labels for seed {seed} ({path}).")
        return pd.read_csv(path, dtype={"id": str})

    def curve(self, seed: int, label: str):
        """Training curve rows of model ``label`` for ``seed`` as a DataFrame (empty when not recorded)."""
        import pandas as pd

        for entry in self.results.get("seeds", []):
            if int(entry.get("seed", -1)) == int(seed):
                return pd.DataFrame(list((entry.get("curves") or {}).get(label) or []))
        raise KeyError(f"Run {self.run_hash} has no seed {seed}. Seeds: {self.seeds}.")


@dataclass(frozen=True)
class RunCollection:
    """Finished runs and their flat table (one row per run, seed and model label)."""

    root: Path
    runs: tuple[RunRecord, ...]
    frame: Any  # pandas.DataFrame
    skipped: tuple[str, ...] = ()

    def run(self, run_hash: str) -> RunRecord:
        for record in self.runs:
            if record.run_hash == run_hash:
                return record
        raise KeyError(f"No finished run {run_hash!r} under {self.root}. Runs: {[r.run_hash for r in self.runs]}.")


def _sweep_hashes(root: Path, sweep: str | Path) -> list[str]:
    candidate = Path(sweep)
    path = candidate if candidate.suffix == ".json" and candidate.is_file() else root / "sweeps" / f"{sweep}.json"
    if not path.is_file():
        available = sorted(p.stem for p in (root / "sweeps").glob("*.json")) if (root / "sweeps").is_dir() else []
        raise FileNotFoundError(f"Sweep {sweep!r}: no manifest at {path}. Sweeps under {root}: {available or 'none'}.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON: {err}") from err
    if isinstance(data, list):
        items: Iterable[Any] = data
    elif isinstance(data, dict) and isinstance(data.get("run_hashes"), list):
        items = data["run_hashes"]
    elif isinstance(data, dict) and isinstance(data.get("runs"), list):
        items = data["runs"]
    else:
        raise ValueError(
            f"{path}: a sweep manifest must hold a `run_hashes` or `runs` list. Got {type(data).__name__} instead."
        )
    hashes = []
    for row, item in enumerate(items):
        value = item.get("config_hash") if isinstance(item, dict) else item
        if not isinstance(value, str) or not value:
            raise ValueError(f"{path}: run {row} must be a config hash string. Got {item!r} instead.")
        hashes.append(value)
    return hashes


def load_runs(root: str | Path, *, sweep: str | Path | None = None) -> tuple[list[RunRecord], list[str]]:
    """Finished runs under ``root`` (all, or those of ``sweep``), and a note per run skipped.

    Args:
        root: the store root holding ``runs/`` (a ``runs`` folder itself is accepted too).
        sweep: a sweep name (``<root>/sweeps/<name>.json``) or the path of a manifest.

    Raises:
        FileNotFoundError: ``root`` has no ``runs`` folder, or the sweep manifest is missing.
    """
    root = Path(root)
    runs_dir = root / "runs"
    if not runs_dir.is_dir() and root.name == "runs" and root.is_dir():
        runs_dir, root = root, root.parent
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"`results_dir` {root} has no runs/ folder; point it at a store root.")
    if sweep is not None:
        folders = [runs_dir / h for h in _sweep_hashes(root, sweep)]
    else:
        folders = sorted(p for p in runs_dir.iterdir() if p.is_dir())
    runs, skipped = [], []
    for folder in folders:
        path = folder / "results.json"
        if not path.is_file():
            skipped.append(f"{folder.name}: not finished (no results.json)")
            continue
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            skipped.append(f"{folder.name}: unreadable results.json ({err})")
            continue
        if not isinstance(results, dict) or not isinstance(results.get("seeds"), list):
            skipped.append(f"{folder.name}: results.json has no `seeds` list")
            continue
        runs.append(RunRecord(str(results.get("config_hash", folder.name)), folder, results))
    return runs, skipped


def _objective_settings(config: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    out = {}
    for obj in config.get("objectives", []):
        name, params = str(obj.get("name")), dict(obj.get("params") or {})
        label = name if not params else name + "(" + ",".join(f"{k}={v:g}" for k, v in sorted(params.items())) + ")"
        out[label] = (name, params)
    return out


def _curve_summary(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, column, how in (
        ("final_param_distance", "param_distance", "last"),
        ("mean_grad_norm", "grad_norm", "mean"),
        ("mean_gdv", "gdv", "mean"),
    ):
        values = [float(r[column]) for r in rows if r.get(column) is not None and math.isfinite(float(r[column]))]
        if values:
            out[key] = values[-1] if how == "last" else sum(values) / len(values)
    return out


def is_distillation(config: dict[str, Any]) -> bool:
    """Whether a run is knowledge distillation: its name has a ``kd`` token, or its weak model is larger."""
    name = str(config.get("name", "")).lower()
    if re.search(r"(^|[^a-z])kd([^a-z]|$)", name) or "distill" in name:
        return True
    weak = model_parameters(config.get("weak", {}).get("source", ""))
    strong = model_parameters(config.get("strong", {}).get("source", ""))
    return weak is not None and strong is not None and weak > strong


def results_frame(runs: Sequence[RunRecord]):
    """One row per (run, seed, model label), config fields flattened beside the test metrics.

    Columns: ``run``, ``name``, ``task``, ``dataset`` (paper name), ``weak``/``strong`` (sources),
    ``weak_name``/``strong_name`` (display), ``pair``, ``weak_finetune``, ``strong_finetune``,
    ``n_teachers``, ``ensemble``, ``smoothing``, ``hard_labels``, ``n_subsets``, ``subset``,
    ``distillation``, ``seed``, ``model`` (label), ``role`` (weak/ceiling/student), ``objective``
    (name, students only), ``objective_params`` (JSON), the metrics of :data:`METRICS`,
    ``teacher_label_accuracy`` and, from the curves, ``final_param_distance``, ``mean_grad_norm``,
    ``mean_gdv`` (NaN where not recorded).
    """
    import pandas as pd

    rows = []
    for record in runs:
        cfg = record.config
        data, teacher = cfg.get("data", {}), cfg.get("teacher", {})
        weak, strong = cfg.get("weak", {}), cfg.get("strong", {})
        objectives = _objective_settings(cfg)
        base = {
            "run": record.run_hash,
            "name": record.name,
            "task": record.task,
            "dataset": display_task(record.task),
            "weak": weak.get("source"),
            "strong": strong.get("source"),
            "weak_name": display_model(weak.get("source", "")),
            "strong_name": display_model(strong.get("source", "")),
            "weak_finetune": weak.get("finetune"),
            "strong_finetune": strong.get("finetune"),
            "n_teachers": int(teacher.get("n_teachers", 1)),
            "ensemble": teacher.get("ensemble", "dual"),
            "smoothing": float(teacher.get("smoothing", 1.0)),
            "hard_labels": bool(teacher.get("hard_labels", False)),
            "n_subsets": int(data.get("n_subsets", 1)),
            "subset": int(data.get("subset", 0)),
            "distillation": is_distillation(cfg),
            "setup": setup_fingerprint(cfg),
        }
        base["pair"] = f"{base['weak_name']} → {base['strong_name']}"
        for entry in record.results.get("seeds", []):
            curves = entry.get("curves") or {}
            for label, metrics in (entry.get("models") or {}).items():
                role = "weak" if label == "weak" else "ceiling" if label == "strong_ceiling" else "student"
                name, params = objectives.get(label, (label.split("(")[0], {})) if role == "student" else (None, {})
                row = dict(base)
                row.update(
                    seed=int(entry.get("seed")),
                    model=label,
                    role=role,
                    objective=name,
                    objective_params=json.dumps(params, sort_keys=True) if role == "student" else None,
                    teacher_label_accuracy=entry.get("teacher_label_accuracy"),
                )
                for metric in METRICS:
                    value = metrics.get(metric)
                    row[metric] = float(value) if value is not None else math.nan
                row.update(_curve_summary(curves.get(label) or []))
                rows.append(row)
    frame = pd.DataFrame(rows)
    for column in _COLUMNS:
        if column not in frame:
            frame[column] = math.nan
    return frame


def setup_fingerprint(config: dict) -> str:
    """6 hex digits naming everything in a run's config that Table 1's columns and settings do not.

    Runs that differ in such a field (split sizes, training settings, ...) must not be averaged
    into one cell; Table 1 splits its rows by this fingerprint when it varies.
    """
    from w2sg.config import stable_hash

    rest = {k: v for k, v in config.items() if k not in ("name", "objectives", "seeds", "runtime", "teacher")}
    rest["data"] = {k: v for k, v in (rest.get("data") or {}).items() if k != "subset"}
    teacher = config.get("teacher") or {}
    rest["teacher"] = {k: v for k, v in teacher.items() if k not in ("smoothing", "n_teachers", "ensemble", "hard_labels")}
    return stable_hash(rest, length=6)


_COLUMNS = (
    "run", "name", "task", "dataset", "weak", "strong", "weak_name", "strong_name", "pair", "weak_finetune",
    "strong_finetune", "n_teachers", "ensemble", "smoothing", "hard_labels", "n_subsets", "subset",
    "distillation", "setup", "seed", "model", "role", "objective", "objective_params", *METRICS,
    "teacher_label_accuracy", "final_param_distance", "mean_grad_norm", "mean_gdv",
)


def collect_runs(root: str | Path, *, sweep: str | Path | None = None) -> RunCollection:
    """Load the finished runs under ``root`` (optionally one sweep's) and their flat table.

    Args:
        root: the store root holding ``runs/``.
        sweep: a sweep name (``<root>/sweeps/<name>.json``) or a manifest path; None reads every run.

    Returns:
        :class:`RunCollection`; ``skipped`` notes each unfinished or unreadable run folder.

    Raises:
        FileNotFoundError: no ``runs/`` under ``root``, or no such sweep manifest.
    """
    runs, skipped = load_runs(root, sweep=sweep)
    return RunCollection(Path(root), tuple(runs), results_frame(runs), tuple(skipped))
