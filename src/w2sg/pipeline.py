"""One weak-to-strong experiment: teachers -> labels -> students -> metrics.

For every seed of a :class:`~w2sg.config.RunConfig`:

1. split the task into D_w / D_s / D_test (class-balanced, resampled per seed);
2. train the weak teacher(s) on the ground truth of D_w (the *floor*) and label D_s with their soft
   predictions, combined by the dual (or primal) mean when there are several (Eq. 42);
3. train the strong model on the ground truth of D_s (the *ceiling*);
4. train one strong student per objective on the teacher's labels of D_s;
5. score everything on D_test (accuracy, AUROC, CE, ECE, agreement, PGR).

Every trained stage is stored under a key made of what determines it (model settings, objective,
seed and the exact ids and labels it was trained on), so a teacher used by many students, runs or
sweep points is trained once, and a rerun reuses every finished stage. The run's ``results.json`` is
written last and atomically: its presence is the only record that the run is done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from w2sg.config import ModelSettings, ObjectiveSettings, RunConfig, dump_config
from w2sg.store import Store, atomic_write_json, atomic_write_text

logger = logging.getLogger(__name__)

Reporter = Callable[[str], None]


def _ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()[:16]


def _targets_digest(targets: np.ndarray) -> str:
    # Labels are compared at float32 resolution: identical computations give identical digests.
    return hashlib.sha256(np.ascontiguousarray(targets, dtype=np.float32).tobytes()).hexdigest()[:16]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function ``1 / (1 + exp(-z))``."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@dataclass(frozen=True)
class StagePredictions:
    """Logits of one trained model on the evaluation sets, plus its training record."""

    logits: dict[str, np.ndarray]
    meta: dict[str, Any]


# Tasks loaded in this process, keyed by source, options and the files' modification times: the
# runs of a sweep share one parse of the data (tweets take ~2 s to read, deduplicate and balance).
_LOADED_TASKS: dict[tuple[str, str, str], tuple[Any, list, str]] = {}


def _source_stamp(source: str) -> str:
    path = Path(source)
    if not path.exists():
        return ""  # a registry name: the registry's own data does not change within a process
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return ";".join(f"{f.name}:{f.stat().st_mtime_ns}:{f.stat().st_size}" for f in files if f.is_file())


class Experiment:
    """Runs one :class:`RunConfig`, reusing finished stages from the store."""

    def __init__(self, config: RunConfig, *, store: Store | None = None, report: Reporter | None = None):
        self.config = config
        self.store = store or Store(config.runtime.output_dir)
        self.run_dir = self.store.run_dir(config.config_hash())
        self.report = report or (lambda message: logger.info(message))
        self._task = None
        self.task_name = ""
        self._models: dict[Any, Any] = {}
        self._tokenizers: dict[str, Any] = {}

    # -- data -----------------------------------------------------------------------------------
    def _task_source(self) -> str:
        """``data.task`` with ``~`` and ``$VARS`` expanded (configs stay portable across machines)."""
        return os.path.expandvars(os.path.expanduser(self.config.data.task))

    def _is_presplit(self) -> bool:
        return Path(self._task_source()).is_dir()

    def task(self):
        """The loaded task (for pre-split folders: the W2S file, which names the kind and drops)."""
        if self._task is None:
            from w2sg.data import load_split_tasks, load_task

            data = self.config.data
            source = self._task_source()
            key = (source, json.dumps(data.options, sort_keys=True, default=str), _source_stamp(source))
            if key not in _LOADED_TASKS:
                if self._is_presplit():
                    tasks = load_split_tasks(source, seed=0, **data.options)
                    examples = [e for t in tasks.values() for e in t.examples]
                    # Named by the folder (e.g. "hh-harmless"); the W2S file gives kind and drops.
                    _LOADED_TASKS[key] = (tasks["w2s"], examples, Path(source).name)
                else:
                    task = load_task(source, **data.options)
                    _LOADED_TASKS[key] = (task, list(task.examples), task.name)
            task, examples, self.task_name = _LOADED_TASKS[key]
            self._examples = list(examples)
            self.report(f"task {self.task_name}: {len(self._examples)} examples ({task.kind})")
            if data.pool is not None:
                self._examples = balanced_pool(self._examples, data.pool)
            self._task = task
        return self._task

    def examples(self) -> list:
        """The task's examples, restricted to the fixed pool when one is configured."""
        self.task()
        return self._examples

    def splits(self, seed: int):
        """D_w, D_s, D_test for ``seed`` (within the configured disjoint subset, if any)."""
        from w2sg.data import disjoint_subsets, load_splits, split_task

        data = self.config.data
        if self._is_presplit():
            self.task()
            parts = load_splits(
                self._task_source(), n_weak=data.n_weak, n_w2s=data.n_w2s, n_test=data.n_test, seed=seed, **data.options
            )
            return parts.weak, parts.w2s, parts.test
        examples = self.examples()
        if data.n_subsets > 1:
            # Algorithm 1 (Yang et al. 2020): subsets fixed across seeds, one test set drawn from
            # what no subset uses, shared by every (subset, seed) pair.
            size = data.n_weak + data.n_w2s
            subsets, rest = disjoint_subsets(examples, n_subsets=data.n_subsets, subset_size=size, seed=0)
            test = split_task(rest, n_weak=0, n_w2s=0, n_test=data.n_test, seed=0).test
            parts = split_task(subsets[data.subset], n_weak=data.n_weak, n_w2s=data.n_w2s, n_test=0, seed=seed)
            return parts.weak, parts.w2s, test
        if data.fixed_test:
            test = split_task(examples, n_weak=0, n_w2s=0, n_test=data.n_test, seed=0).test
            used = {e.id for e in test}
            rest = [e for e in examples if e.id not in used]
            parts = split_task(rest, n_weak=data.n_weak, n_w2s=data.n_w2s, n_test=0, seed=seed)
            return parts.weak, parts.w2s, test
        parts = split_task(examples, n_weak=data.n_weak, n_w2s=data.n_w2s, n_test=data.n_test, seed=seed)
        return parts.weak, parts.w2s, parts.test

    # -- one trained model -----------------------------------------------------------------------
    def train_stage(
        self,
        role: str,
        settings: ModelSettings,
        objective: ObjectiveSettings,
        train_examples: Sequence,
        targets: np.ndarray,
        eval_sets: dict[str, Sequence],
        seed: int,
        *,
        record_curve: bool = True,
    ) -> StagePredictions:
        """Train ``settings`` on (examples, targets) with ``objective``; logits on each eval set.

        The stage key is the content that determines the result, so identical work is shared.
        """
        key = {
            "model": settings.model_dump(mode="json"),
            "objective": objective.model_dump(mode="json"),
            "kind": self.task().kind,
            "max_length": self.config.data.max_length,
            "seed": seed,
            "gdv_window": self.config.gdv_window,
            "train_ids": _ids_digest([e.id for e in train_examples]),
            "targets": _targets_digest(targets),
            "eval": {name: _ids_digest([e.id for e in ex]) for name, ex in sorted(eval_sets.items())},
        }
        stage = self.store.load_stage("model", key)
        if stage is not None:
            self.report(f"  {role}: reused {stage.path.name}")
            logits = {name: stage.arrays[f"logits_{name}"] for name in eval_sets}
            return StagePredictions(logits, stage.meta)

        start = time.perf_counter()
        if settings.finetune == "features":
            logits, history = self._train_on_features(settings, objective, train_examples, targets, eval_sets, seed)
        else:
            log_path = self.run_dir / "curves" / f"{_slug(role)}-seed{seed}.jsonl"
            logits, history = self._fine_tune(
                settings, objective, train_examples, targets, eval_sets, seed, log_path=log_path
            )
        seconds = time.perf_counter() - start
        self.report(f"  {role}: trained in {seconds:.1f}s")
        arrays = {f"logits_{name}": np.asarray(v, dtype=np.float32) for name, v in logits.items()}
        for name, examples in eval_sets.items():
            arrays[f"ids_{name}"] = np.array([e.id for e in examples])
        meta = {"role": role, "seconds": seconds, "history": history}
        stage = self.store.save_stage("model", key, arrays, meta)
        return StagePredictions(logits, stage.meta)

    def _load(self, settings: ModelSettings, seed: int):
        from w2sg.models import load_model

        return load_model(
            settings.source,
            kind=self.task().kind,
            pooling=settings.pooling,
            dtype=settings.dtype,
            finetune="head" if settings.finetune == "features" else settings.finetune,
            lora_rank=settings.lora_rank,
            gradient_checkpointing=settings.gradient_checkpointing,
            max_length=self.config.data.max_length,
            seed=seed,
        )

    def truncated_texts(self, settings: ModelSettings, examples: Sequence) -> int:
        """How many texts of ``examples`` the model's tokenizer cuts at ``data.max_length``.

        Reported in results (and logged) rather than hidden: a high count means ``max_length``
        drops content the paper's models would see (left truncation keeps the end of a text).
        """
        from w2sg.models import resolve_source, tokenize

        tokenizer = self._tokenizers.get(settings.source)
        if tokenizer is None:
            from transformers import AutoTokenizer

            resolved = resolve_source(settings.source)
            extra = {"gguf_file": resolved.gguf_file} if resolved.gguf_file else {}
            tokenizer = self._tokenizers[settings.source] = AutoTokenizer.from_pretrained(
                resolved.tokenizer_path, **extra
            )
        encoded = tokenize(tokenizer, list(examples), max_length=self.config.data.max_length)
        return int(encoded.n_truncated)

    def _features(self, settings: ModelSettings, examples: Sequence) -> np.ndarray:
        from w2sg.features import extract_features

        cache_key = (settings.source, settings.pooling, settings.dtype)
        model = self._models.get(cache_key)
        if model is None:
            model = self._models[cache_key] = self._load(settings, seed=0)
        return extract_features(
            model,
            examples,
            cache_dir=self.store.root / "features",
            progress=self.config.runtime.progress,
        )

    def _train_on_features(self, settings, objective, train_examples, targets, eval_sets, seed):
        from w2sg.features import HeadConfig, train_linear_head
        from w2sg.losses import make_objective

        train = settings.train
        head_config = HeadConfig(
            epochs=train.epochs,
            lr=train.lr,
            weight_decay=train.weight_decay,
            optimizer=train.optimizer,
            seed=seed,
            # Centring would break the antisymmetry z(a, b) = -z(b, a) of pairwise reward heads.
            center=self.task().kind != "pairwise",
        )
        head = train_linear_head(
            self._features(settings, train_examples),
            targets,
            make_objective(objective.name, **objective.params),
            head_config,
        )
        logits = {name: head.predict_logits(self._features(settings, ex)) for name, ex in eval_sets.items()}
        history = [dict(row) for row in head.history]
        if history and head_config.init_scale == 0:
            # The head starts at w = 0, so its distance from initialisation is |w| (Sec. 7.7).
            history[-1]["param_distance"] = float(np.linalg.norm(head.weight))
        return logits, history

    def _fine_tune(self, settings, objective, train_examples, targets, eval_sets, seed, *, log_path: Path):
        from w2sg.losses import make_objective
        from w2sg.train import TrainConfig, predict_logits, train_model

        runtime = self.config.runtime
        train = settings.train
        model = self._load(settings, seed=seed)
        config = TrainConfig(
            epochs=train.epochs,
            batch_size=train.batch_size,
            micro_batch_size=runtime.micro_batch_size or train.batch_size,
            lr=train.lr,
            optimizer=train.optimizer,
            weight_decay=train.weight_decay,
            schedule=train.schedule,
            warmup_frac=train.warmup_frac,
            max_grad_norm=train.max_grad_norm,
            seed=seed,
            mixed_precision="bf16" if settings.dtype == "bf16" else "no",
            dropout=train.dropout,
            record=set(runtime.record),
            gdv_window=self.config.gdv_window,
            log_every=runtime.log_every,
        )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.unlink(missing_ok=True)  # a curve left by an interrupted attempt starts over
        history = train_model(
            model,
            list(train_examples),
            np.asarray(targets, dtype=np.float32),
            make_objective(objective.name, **objective.params),
            config,
            log_path=log_path,
            progress=runtime.progress,
            trackers=list(runtime.trackers) or None,
        )
        logits = {
            name: predict_logits(model, list(ex), batch_size=max(train.batch_size, 32), progress=runtime.progress)
            for name, ex in eval_sets.items()
        }
        return logits, [dict(r) for r in history.rows]

    # -- the experiment --------------------------------------------------------------------------
    def teacher_labels(self, weak, w2s, test, seed: int) -> tuple[np.ndarray, np.ndarray, list[StagePredictions]]:
        """Soft labels on D_s and logits on D_test of the (ensembled) weak teacher (Eq. 42)."""
        cfg = self.config
        hard_objective = ObjectiveSettings(name="ce")
        teachers = []
        for t, part in enumerate(teacher_training_sets(weak, cfg.teacher.n_teachers, cfg.teacher.diversity, seed)):
            gt = np.array([e.label for e in part], dtype=np.float32)
            teachers.append(
                self.train_stage(
                    f"weak teacher {t + 1}/{cfg.teacher.n_teachers}",
                    cfg.weak,
                    hard_objective,
                    part,
                    gt,
                    {"w2s": w2s, "test": test},
                    seed * 1000 + t,
                )
            )
        w2s_logits = np.stack([t.logits["w2s"] for t in teachers])  # (T, n_w2s)
        test_logits = np.stack([t.logits["test"] for t in teachers])  # (T, n_test)
        label_logit = ensemble_logits(w2s_logits, how=cfg.teacher.ensemble)
        test_logit = ensemble_logits(test_logits, how=cfg.teacher.ensemble)
        labels = sigmoid(label_logit)
        if cfg.teacher.smoothing < 1.0:
            from w2sg.losses import smooth_labels

            labels = smooth_labels(labels, cfg.teacher.smoothing)  # Prop. 2
        if cfg.teacher.hard_labels:
            labels = (labels >= 0.5).astype(np.float64)
        return labels.astype(np.float32), test_logit, teachers

    def prepare_teachers(self) -> None:
        """Train (or reuse) only the weak teachers of every seed: the work sweeps share most."""
        for seed in self.config.seeds:
            self.teacher_labels(*self.splits(seed), seed)

    def check_objectives(self) -> None:
        """Build every objective once, so a bad parameter fails before any training."""
        from w2sg.losses import make_objective

        for objective in self.config.objectives:
            make_objective(objective.name, **objective.params)

    def run(self) -> dict[str, Any]:
        cfg = self.config
        self.check_objectives()
        done = self.store.run_results(cfg.config_hash())
        if done is not None:
            self.report(f"run {cfg.config_hash()} already finished: {self.run_dir}")
            return done
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run_dir / "config.toml", dump_config(cfg))
        start = time.perf_counter()
        per_seed = []
        for seed in cfg.seeds:
            self.report(f"seed {seed}")
            per_seed.append(self._run_seed(seed))
        summary = summarise(per_seed, [o.label for o in cfg.objectives])
        results = {
            "config_hash": cfg.config_hash(),
            "config": cfg.model_dump(mode="json"),
            "task": {"name": self.task_name, "kind": self.task().kind, "report": _report_dict(self.task())},
            "seeds": per_seed,
            "summary": summary,
            "wall_seconds": time.perf_counter() - start,
            "environment": environment(),
        }
        try:
            from w2sg.report.run_summary import plot_run_summary

            plot_run_summary(results, self.run_dir / "summary.png")
        except Exception as err:  # a figure must never lose a finished result
            logger.warning("could not draw the run summary: %s", err)
        atomic_write_json(self.run_dir / "results.json", results)
        return results

    def _run_seed(self, seed: int) -> dict[str, Any]:
        from w2sg import metrics

        cfg = self.config
        weak, w2s, test = self.splits(seed)
        y_test = np.array([e.label for e in test], dtype=np.float64)
        y_w2s = np.array([e.label for e in w2s], dtype=np.float32)
        labels, teacher_test_logit, _ = self.teacher_labels(weak, w2s, test, seed)

        ceiling = self.train_stage(
            "strong ceiling", cfg.strong, ObjectiveSettings(name="ce"), w2s, y_w2s, {"test": test}, seed
        )
        students = {}
        for objective in cfg.objectives:
            students[objective.label] = self.train_stage(
                f"student {objective.label}", cfg.strong, objective, w2s, labels, {"test": test}, seed
            )

        teacher_p = sigmoid(teacher_test_logit)
        # Fig. 6: the items the teacher is least sure of (confidence |p - 1/2| below a quantile).
        confidence = np.abs(teacher_p - 0.5)
        low = confidence <= np.quantile(confidence, cfg.low_confidence_quantile)
        probs = {"weak": teacher_p, "strong_ceiling": sigmoid(ceiling.logits["test"])}
        probs.update({label: sigmoid(stage.logits["test"]) for label, stage in students.items()})
        rows = {}
        for label, p in probs.items():
            rows[label] = score(p, y_test)
            rows[label]["accuracy_low_confidence"] = float(np.mean((p[low] >= 0.5) == (y_test[low] >= 0.5)))
            if label in students:
                rows[label]["agreement_with_teacher"] = float(metrics.agreement(p, teacher_p))
        curves = {label: _thin(stage.meta.get("history", [])) for label, stage in students.items()}
        curves["strong_ceiling"] = _thin(ceiling.meta.get("history", []))
        weak_acc, strong_acc = rows["weak"]["accuracy"], rows["strong_ceiling"]["accuracy"]
        for label in students:
            rows[label]["pgr"] = _safe_pgr(weak_acc, rows[label]["accuracy"], strong_acc)
        self._write_predictions(seed, w2s, labels, y_w2s, test, y_test, teacher_p, ceiling, students)
        teacher_label_acc = float(np.mean((labels >= 0.5) == (y_w2s >= 0.5)))
        every = [*weak, *w2s, *test]
        truncated = {
            "texts": sum(len(e.texts) for e in every),
            "weak_model": self.truncated_texts(cfg.weak, every),
            "strong_model": self.truncated_texts(cfg.strong, every),
        }
        if truncated["weak_model"] or truncated["strong_model"]:
            self.report(
                f"  truncated to {cfg.data.max_length} tokens: {truncated['weak_model']} (weak) and "
                f"{truncated['strong_model']} (strong) of {truncated['texts']} texts"
            )
        return {
            "seed": seed,
            "sizes": {"weak": len(weak), "w2s": len(w2s), "test": len(test)},
            "teacher_label_accuracy": teacher_label_acc,
            "truncated": truncated,
            "models": rows,
            "curves": curves,
        }

    def _write_predictions(self, seed, w2s, labels, y_w2s, test, y_test, teacher_p, ceiling, students):
        import pandas as pd

        folder = self.run_dir / "predictions"
        folder.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame({"id": [e.id for e in w2s], "label": y_w2s, "teacher_prob": labels})
        _atomic_frame(frame, folder / f"w2s_labels_seed{seed}.csv")
        columns = {"id": [e.id for e in test], "label": y_test, "weak": teacher_p}
        columns["strong_ceiling"] = sigmoid(ceiling.logits["test"])
        for label, stage in students.items():
            columns[label] = sigmoid(stage.logits["test"])
        _atomic_frame(pd.DataFrame(columns), folder / f"test_predictions_seed{seed}.csv")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=_-]+", "-", text).strip("-")


def _thin(rows: list[dict[str, Any]], limit: int = 400) -> list[dict[str, Any]]:
    """At most ``limit`` evenly spaced rows of a training curve, always keeping the last."""
    if len(rows) <= limit:
        return rows
    index = np.unique(np.linspace(0, len(rows) - 1, limit).round().astype(int))
    return [rows[i] for i in index]


def _atomic_frame(frame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


def _report_dict(task) -> Any:
    report = getattr(task, "report", None)
    if report is None:
        return None
    for attr in ("to_dict", "as_dict"):
        if hasattr(report, attr):
            return getattr(report, attr)()
    return str(report)


def balanced_pool(examples: Sequence, size: int, *, seed: int = 0) -> list:
    """A fixed, class-balanced subset of ``size`` examples (``size // 2`` per class), in task order."""
    labels = np.array([e.label for e in examples])
    rng = np.random.default_rng(seed)
    chosen = []
    for cls, count in ((0, size // 2), (1, size - size // 2)):
        index = np.flatnonzero(labels == cls)
        if index.size < count:
            raise ValueError(
                f"data.pool of {size} needs {count} examples of class {cls}; the task has {index.size}."
            )
        chosen.append(rng.choice(index, size=count, replace=False))
    return [examples[i] for i in np.sort(np.concatenate(chosen))]


def teacher_training_sets(weak: Sequence, n_teachers: int, diversity: str, seed: int) -> list[list]:
    """The D_w each ensemble teacher trains on (Eq. 42 needs teachers that differ).

    ``seed``: all teachers see D_w (they differ by their seed); ``bootstrap``: each draws |D_w|
    examples with replacement; ``disjoint``: D_w is cut into ``n_teachers`` parts, each with both
    classes in equal measure.
    """
    weak = list(weak)
    if n_teachers == 1 or diversity == "seed":
        return [weak] * n_teachers
    rng = np.random.default_rng([seed, 7919])
    if diversity == "bootstrap":
        return [[weak[i] for i in rng.integers(len(weak), size=len(weak))] for _ in range(n_teachers)]
    if diversity == "disjoint":
        parts: list[list] = [[] for _ in range(n_teachers)]
        for cls in (0, 1):
            index = rng.permutation([i for i, e in enumerate(weak) if e.label == cls])
            for t, chunk in enumerate(np.array_split(index, n_teachers)):
                parts[t].extend(weak[i] for i in chunk)
        if min(len(p) for p in parts) < 2:
            raise ValueError(f"teacher.diversity='disjoint' leaves a teacher with < 2 examples of D_w ({len(weak)}).")
        return parts
    raise ValueError(f"teacher.diversity must be 'seed', 'bootstrap' or 'disjoint'. Got {diversity!r} instead.")


def ensemble_logits(logits: np.ndarray, *, how: str = "dual") -> np.ndarray:
    r"""Combine T teachers' binary logits ``(T, n)`` into one logit per example (Eq. 42).

    This is the package's one implementation of the teacher ensemble; it works on logits because
    that is what trained teachers output (for probabilities, use ``w2sg.bregman.dual_mean``).

    .. math::
        \text{dual: } z = \tfrac1T \textstyle\sum_t z_t \;(\sigma(z) \text{ is the normalised geometric mean}),
        \qquad \text{primal: } z = \mathrm{logit}\big(\tfrac1T \textstyle\sum_t \sigma(z_t)\big).

    The dual mean is ``w2sg.bregman.dual_mean(BinaryKL(), sigmoid(logits))`` computed in logit
    space, which stays finite for saturated teachers.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"logits must have shape (n_teachers, n_examples). Got {logits.shape} instead.")
    if how == "dual":
        return logits.mean(axis=0)
    if how == "primal":
        p = sigmoid(logits).mean(axis=0)
        p = np.clip(p, 1e-12, 1 - 1e-12)  # keeps the logit finite when every teacher saturates
        return np.log(p) - np.log1p(-p)
    raise ValueError(f"how must be 'dual' or 'primal'. Got {how!r} instead.")


def score(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Test metrics of one model: accuracy (± s.e.), AUROC, CE, ECE."""
    from w2sg import metrics

    mean, se = metrics.accuracy(probs, labels)
    return {
        "accuracy": float(mean),
        "accuracy_se": float(se),
        "auroc": float(metrics.auroc(probs, labels)),
        "cross_entropy": float(metrics.cross_entropy(probs, labels)),
        "ece": float(metrics.expected_calibration_error(probs, labels)),
    }


def _safe_pgr(weak: float, w2s: float, strong: float) -> float | None:
    from w2sg.metrics import performance_gap_recovered

    if strong == weak:  # undefined: stored as null rather than nan
        return None
    return float(performance_gap_recovered(weak, w2s, strong))


def summarise(per_seed: list[dict[str, Any]], objective_labels: list[str]) -> dict[str, Any]:
    """Mean ± standard error over seeds of every metric, and PGR with its spread across seeds."""
    from w2sg import metrics

    names = ["weak", "strong_ceiling", *objective_labels]
    out: dict[str, Any] = {}
    for name in names:
        entry: dict[str, Any] = {}
        for metric in ("accuracy", "auroc", "cross_entropy", "ece", "agreement_with_teacher"):
            values = [s["models"][name][metric] for s in per_seed if metric in s["models"][name]]
            if values:
                entry[metric] = _mean_se(values)
        out[name] = entry
    weak = np.array([s["models"]["weak"]["accuracy"] for s in per_seed])
    strong = np.array([s["models"]["strong_ceiling"]["accuracy"] for s in per_seed])
    for label in objective_labels:
        w2s = np.array([s["models"][label]["accuracy"] for s in per_seed])
        pgr = metrics.pgr_across_seeds(weak, w2s, strong)
        out[label]["pgr"] = _pgr_dict(pgr)
    return out


def _pgr_dict(pgr: Any) -> dict[str, Any]:
    """JSON form of :class:`w2sg.metrics.PGRAcrossSeeds` (nan becomes None)."""

    def num(value: float) -> float | None:
        return None if value != value else float(value)

    return {
        "mean": num(pgr.mean),
        "standard_error": num(pgr.standard_error),
        "per_seed": [num(v) for v in np.asarray(pgr.per_seed, dtype=float)],
        "ratio_of_means": num(pgr.ratio_of_means),
        "ratio_of_means_standard_error": num(pgr.ratio_of_means_standard_error),
    }


def _mean_se(values: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    se = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else float("nan")
    return {"mean": float(arr.mean()), "standard_error": se, "n": int(arr.size)}


def environment() -> dict[str, Any]:
    """Versions and git commit recorded in every results.json."""
    import importlib.metadata as md

    versions = {}
    for package in ("w2sg", "torch", "transformers", "numpy", "accelerate", "peft", "datasets"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=5,
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": versions, "git": commit}


def run_experiment(config: RunConfig, *, store: Store | None = None, report: Reporter | None = None) -> dict[str, Any]:
    """Run (or reuse) the experiment ``config`` and return its results."""
    return Experiment(config, store=store, report=report).run()
