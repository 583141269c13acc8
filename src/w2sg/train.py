r"""Fine-tuning loop for W2S models on accelerate, readable top to bottom.

One function, :func:`train_model`, trains a :class:`w2sg.models.W2SModel` on soft targets with any
objective that follows the :mod:`w2sg.losses` protocol. The loop is the paper's recipe (MATH.md 8.3):
Adam without weight decay, cosine annealing over all optimiser steps without warm-up, dropout off
(``model.eval()`` semantics), micro-batches with gradient accumulation up to the optimiser batch.

Gradient accumulation is real: each micro-batch contributes
:math:`\sum_{i \in \text{micro}} \ell_i / |B|` and is back-propagated at once, so no graph outlives
its micro-batch. Objectives that need batch statistics (AUX's hardening threshold, MATH.md 7.1)
first see the logits of the whole optimiser batch under ``torch.no_grad()``, so the result does not
depend on the micro-batch size.

Per optimiser step the loop records the loss, the gradient norm and the distance of the parameters
from their initial values (MATH.md 7.7), and optionally the gradient direction variance over a
window of steps (GDV, Eq. 43, MATH.md 7.8).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

Schedule = Literal["cosine", "constant"]
Metric = Literal["loss", "grad_norm", "param_distance", "gdv"]
ALL_METRICS: frozenset[str] = frozenset({"loss", "grad_norm", "param_distance", "gdv"})

__all__ = [
    "TrainConfig",
    "TrainHistory",
    "train_model",
    "predict_logits",
    "learning_rate_at",
    "gradient_direction_variance",
]


class TrainConfig(BaseModel):
    """Settings of one fine-tuning run (validated; unknown keys are errors).

    ``micro_batch_size``, ``record``, ``gdv_window`` and ``log_every`` do not change the trained
    parameters (see :attr:`RESULT_NEUTRAL_FIELDS`); everything else does.

    Attributes:
        epochs: passes over the data (>= 1); ignored when ``max_steps`` is set.
        max_steps: total optimiser steps; when set, epochs repeat (reshuffled) until reached.
        batch_size: optimiser batch size (examples per optimiser step).
        micro_batch_size: examples per forward/backward pass; ``None`` means ``batch_size``.
        lr: base learning rate (> 0).
        optimizer: ``"adam"`` (L2 folded into the gradient) or ``"adamw"`` (decoupled decay).
        weight_decay: >= 0; the paper uses 0.
        schedule: ``"cosine"`` (annealed to 0 over all steps) or ``"constant"``.
        warmup_frac: fraction of steps with a linear warm-up, in [0, 1).
        max_grad_norm: clip the global gradient norm to this value; ``None`` disables clipping.
        seed: seeds python, numpy and torch, and the per-epoch shuffles.
        mixed_precision: ``"no"`` or ``"bf16"`` (autocast of the forward pass).
        dropout: ``False`` trains in ``model.eval()`` mode, as the paper does.
        record: metrics computed per step, a subset of loss, grad_norm, param_distance, gdv (the
            loss, being free, is always recorded).
            ``param_distance`` keeps a copy of the initial parameters; ``gdv`` keeps ``gdv_window``
            flattened float32 gradients in CPU memory (4 bytes x parameters x window).
        gdv_window: number of most recent step gradients that GDV is computed over (>= 2).
        log_every: progress bar and tracker update period in steps (the jsonl log gets every step).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=1, ge=1)
    max_steps: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=32, ge=1)
    micro_batch_size: int | None = Field(default=None, ge=1)
    lr: float = Field(default=1e-5, gt=0, allow_inf_nan=False)
    optimizer: Literal["adam", "adamw"] = "adam"
    weight_decay: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    schedule: Schedule = "cosine"
    warmup_frac: float = Field(default=0.0, ge=0, lt=1)
    max_grad_norm: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    seed: int = 0
    mixed_precision: Literal["no", "bf16"] = "no"
    dropout: bool = False
    record: frozenset[Metric] = frozenset({"loss", "grad_norm", "param_distance"})
    gdv_window: int = Field(default=8, ge=2)
    log_every: int = Field(default=1, ge=1)

    RESULT_NEUTRAL_FIELDS: ClassVar[tuple[str, ...]] = ("micro_batch_size", "record", "gdv_window", "log_every")

    @field_validator("record", mode="before")
    @classmethod
    def _record_as_set(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                f"`record` of TrainConfig must be a collection of {sorted(ALL_METRICS)}. "
                f"Got the string {value!r} instead; pass [{value!r}]."
            )
        return value

    @model_validator(mode="after")
    def _micro_fits_batch(self) -> TrainConfig:
        if self.micro_batch_size is not None and self.micro_batch_size > self.batch_size:
            raise ValueError(
                "`micro_batch_size` of TrainConfig must be at most `batch_size` "
                f"({self.batch_size}). Got {self.micro_batch_size} instead."
            )
        return self

    @property
    def micro(self) -> int:
        """Effective micro-batch size."""
        return self.micro_batch_size or self.batch_size


@dataclass
class TrainHistory:
    """What a run recorded: one dict per optimiser step, plus evaluations and timing.

    Attributes:
        rows: per step ``{"step", "epoch", "lr", "loss", "grad_norm", "param_distance",
            "param_distance_head", "param_distance_backbone", "gdv"}`` (those recorded).
        evaluations: ``{"step": s, **eval_fn(model, s)}`` for each requested evaluation step.
        total_steps: number of optimiser steps run.
        wall_seconds: training wall time.
    """

    rows: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    total_steps: int = 0
    wall_seconds: float = 0.0

    def series(self, name: str) -> np.ndarray:
        """Values of one recorded metric over steps (NaN where not recorded), float64 ``[steps]``."""
        return np.array([r.get(name, math.nan) if r.get(name) is not None else math.nan
                         for r in self.rows], dtype=np.float64)


def learning_rate_at(
    step: int, total_steps: int, base_lr: float, *, warmup_steps: int = 0, schedule: Schedule = "cosine"
) -> float:
    r"""Learning rate of optimiser step ``step`` (0-based).

    Linear warm-up over the first ``warmup_steps`` steps, then cosine annealing to 0 over the rest
    (``CosineAnnealingLR(T_max=total_steps)`` when there is no warm-up, MATH.md 8.3):

    .. math::
        \eta_t = \begin{cases}
            \eta \, \frac{t + 1}{W} & t < W \\
            \eta \, \tfrac12 \big(1 + \cos(\pi \, \frac{t - W}{T - W})\big) & t \ge W
        \end{cases}

    with :math:`T` = ``total_steps``, :math:`W` = ``warmup_steps``; ``"constant"`` keeps
    :math:`\eta` after the warm-up.

    Examples:
        >>> learning_rate_at(0, 4, 1.0)
        1.0
        >>> round(learning_rate_at(2, 4, 1.0), 6)
        0.5
    """
    if total_steps < 1:
        raise ValueError(f"`total_steps` of learning_rate_at must be >= 1. Got {total_steps} instead.")
    if not 0 <= step < total_steps:
        raise ValueError(
            f"`step` of learning_rate_at must be in [0, total_steps={total_steps}). Got {step} instead."
        )
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"`warmup_steps` of learning_rate_at must be in [0, total_steps={total_steps}). "
            f"Got {warmup_steps} instead."
        )
    if schedule not in ("cosine", "constant"):
        raise ValueError(
            f"`schedule` of learning_rate_at must be 'cosine' or 'constant'. Got {schedule!r} instead."
        )
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * t))


def gradient_direction_variance(gradients: Sequence[Any] | np.ndarray) -> float:
    r"""Gradient direction variance of a set of flattened gradients (Eq. 43, MATH.md 7.8).

    .. math::
        \mathrm{GDV}(G) = \frac{2}{|G|(|G|-1)} \sum_{i<j} \tfrac12
            \Big(1 - \frac{\langle g_i, g_j\rangle}{\lVert g_i\rVert \, \lVert g_j\rVert}\Big)
        \in [0, 1]

    Let :math:`g_i` be row ``i`` of ``gradients``. With unit vectors :math:`u_i`, the pair sum is
    :math:`(\lVert\sum_i u_i\rVert^2 - |G|)/2`, which is what is computed (O(|G| d)).

    Args:
        gradients: array of shape (m, d) or a sequence of m arrays of d elements, m >= 2; torch
            tensors (any float dtype) are accepted. Computed in float64.

    Returns:
        GDV in [0, 1]: 0 for identical directions, 1 for a pair of opposite ones.

    Raises:
        ValueError: fewer than 2 gradients, ragged or empty vectors, non-finite values, or a zero
            vector (it has no direction).

    Examples:
        >>> gradient_direction_variance([[1.0, 0.0], [0.0, 2.0]])
        0.5
    """
    rows = [_as_float64(g).ravel() for g in gradients]
    if len(rows) < 2:
        raise ValueError(
            f"`gradients` of gradient_direction_variance must hold >= 2 vectors. Got {len(rows)} instead.")
    sizes = {r.size for r in rows}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(
            f"`gradients` of gradient_direction_variance must be non-empty vectors of one size. "
            f"Got sizes {sorted(sizes)} instead."
        )
    matrix = np.stack(rows)
    if not np.all(np.isfinite(matrix)):
        raise ValueError("`gradients` of gradient_direction_variance must be finite. Got NaN or inf instead.")
    norms = np.linalg.norm(matrix, axis=1)
    if np.any(norms == 0):
        raise ValueError(
            "`gradients` of gradient_direction_variance must be non-zero vectors (a zero gradient has no "
            f"direction). Got a zero vector at row(s) {np.flatnonzero(norms == 0).tolist()} instead."
        )
    m = len(rows)
    total = (matrix / norms[:, None]).sum(axis=0)
    mean_cos = (float(total @ total) - m) / (m * (m - 1))
    return float(np.clip(0.5 * (1.0 - mean_cos), 0.0, 1.0))


def _as_float64(g: Any) -> np.ndarray:
    if hasattr(g, "detach"):  # torch tensor, possibly bf16 (numpy has no bf16)
        g = g.detach().to(device="cpu").double().numpy()
    return np.asarray(g, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# Batching: everything that touches tokens goes through w2sg.models (left-truncation, dynamic pads).


def _encode(model: Any, examples: Sequence[Any]) -> Any:
    from w2sg.models import tokenize

    return tokenize(model, examples, max_length=model.max_length,
                    truncation_side=getattr(model, "truncation_side", "left"))


def _lengths(encoded: Any) -> np.ndarray:
    return np.asarray(encoded.lengths, dtype=np.int64)


def _collate(model: Any, encoded: Any, indices: Sequence[int], device: Any) -> dict[str, torch.Tensor]:
    from w2sg.models import collate

    batch = collate([encoded[i] for i in indices], model.pad_token_id)
    return {k: v.to(device) for k, v in batch.items()}


def _optimiser_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    from w2sg.models import length_grouped_batches

    return [list(map(int, b)) for b in length_grouped_batches(lengths, batch_size, seed, epoch=epoch)]


def check_objective(objective: Any, owner: str) -> None:
    """Raise a TypeError unless ``objective`` follows the ``w2sg.losses`` protocol."""
    missing = [a for a in ("fit", "needs_batch_statistics", "batch_statistics") if not hasattr(objective, a)]
    if missing or not callable(objective):
        raise TypeError(
            f"`objective` of {owner} must follow the w2sg.losses Objective protocol (callable, with fit, "
            f"needs_batch_statistics, batch_statistics); use w2sg.losses.make_objective. Got "
            f"{type(objective).__name__} missing {missing or ['__call__']} instead."
        )


def _targets_array(examples: Sequence[Any], targets: Any) -> np.ndarray:
    """Soft targets aligned with ``examples``: an array in their order or a mapping keyed by id."""
    if isinstance(targets, Mapping):
        missing = [ex.id for ex in examples if ex.id not in targets]
        if missing:
            raise ValueError(
                f"`targets` of train_model must have an entry for every example id. Got none for "
                f"{len(missing)} ids, e.g. {missing[:3]} instead."
            )
        y = np.array([targets[ex.id] for ex in examples], dtype=np.float64)
    else:
        y = np.asarray(targets, dtype=np.float64).reshape(-1)
        if y.shape[0] != len(examples):
            raise ValueError(
                f"`targets` of train_model must have one value per example ({len(examples)}). "
                f"Got {y.shape[0]} instead."
            )
    bad = np.flatnonzero(~np.isfinite(y) | (y < 0) | (y > 1))
    if bad.size:
        raise ValueError(
            f"`targets` of train_model must be probabilities in [0, 1]. Got {y[bad[0]]!r} at row {bad[0]} "
            f"(example id {examples[bad[0]].id!r}) instead."
        )
    return y


# --------------------------------------------------------------------------------------------------
# Diagnostics (MATH.md 7.7)


def _grad_norm(params: Sequence[torch.nn.Parameter]) -> float:
    import torch

    squares = [p.grad.detach().double().pow(2).sum() for p in params if p.grad is not None]
    return math.sqrt(float(torch.stack(squares).sum())) if squares else 0.0


def _param_distance(
    named: Sequence[tuple[str, torch.nn.Parameter]], initial: Sequence[torch.Tensor]
) -> dict[str, float]:
    r""":math:`\lVert\theta-\theta_0\rVert_2` over all trainable params, and its head/backbone parts."""
    head = backbone = 0.0
    for (name, p), p0 in zip(named, initial, strict=True):
        sq = float((p.detach().double() - p0.double()).pow(2).sum())
        if _is_head(name):
            head += sq
        else:
            backbone += sq
    return {
        "param_distance": math.sqrt(head + backbone),
        "param_distance_head": math.sqrt(head),
        "param_distance_backbone": math.sqrt(backbone),
    }


def _is_head(name: str) -> bool:
    return name == "score" or name.startswith("score.") or ".score." in f".{name}"


# --------------------------------------------------------------------------------------------------


def train_model(
    model: torch.nn.Module,
    examples: Sequence[Any],
    targets: Sequence[float] | np.ndarray | Mapping[str, float],
    objective: Any,
    config: TrainConfig,
    *,
    log_path: str | Path | None = None,
    progress: bool = True,
    trackers: Sequence[str] | None = None,
    eval_fn: Callable[[torch.nn.Module, int], Mapping[str, float]] | None = None,
    eval_steps: Collection[int] = (),
) -> TrainHistory:
    r"""Fine-tune ``model`` on soft ``targets`` with ``objective`` (MATH.md 8.3).

    Each optimiser step over batch :math:`B` (length-grouped, reshuffled per epoch with ``seed``)
    minimises

    .. math::
        L_B(\theta) = \frac{1}{|B|} \sum_{i \in B} \ell\big(z_\theta(x_i), y_i;\ \text{progress}, S_B\big),

    accumulated over micro-batches (each back-propagated on its own), where ``progress`` =
    step / total_steps and :math:`S_B` = ``objective.batch_statistics`` of the whole batch's logits
    (only for objectives that need it, e.g. AUX, Eq. 9/40). ``objective.fit(targets)`` runs once first.

    Args:
        model: a ``W2SModel`` (``forward(batch) -> logits [B]``, ``.tokenizer``, ``.max_length``,
            ``.score`` head); trained in place.
        examples: the training examples (``w2sg.data.Example``).
        targets: soft labels in [0, 1], aligned with ``examples`` or a mapping keyed by example id.
        objective: follows the ``w2sg.losses`` protocol (``fit``, ``needs_batch_statistics``,
            ``batch_statistics``, ``__call__(logits, targets, *, progress, statistics)`` per example).
        config: a :class:`TrainConfig`.
        log_path: jsonl file that gets one line per step (appended and flushed as it goes).
        progress: show a progress bar.
        trackers: accelerate tracker names, e.g. ``["tensorboard"]`` (logged every ``log_every``).
        eval_fn: ``eval_fn(model, step) -> {name: value}``, called after the listed steps only.
        eval_steps: 1-based optimiser step counts after which ``eval_fn`` runs.

    Returns:
        A :class:`TrainHistory` with one record per optimiser step. The model is left in eval mode.

    Raises:
        ValueError: empty ``examples``, misaligned or out-of-range ``targets``, bad ``eval_steps``,
            or a non-finite loss.
        TypeError: ``config`` is not a :class:`TrainConfig`.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` of train_model must be a TrainConfig. Got {type(config).__name__} instead.")
    if len(examples) == 0:
        raise ValueError("`examples` of train_model must be non-empty. Got 0 examples instead.")
    y_all = _targets_array(examples, targets)
    check_objective(objective, "train_model")
    steps_per_epoch = math.ceil(len(examples) / config.batch_size)
    total_steps = config.max_steps or config.epochs * steps_per_epoch
    eval_at = set(int(s) for s in eval_steps)
    if any(not 1 <= s <= total_steps for s in eval_at):
        raise ValueError(f"`eval_steps` of train_model must lie in [1, {total_steps}]. Got {sorted(eval_at)} instead.")
    if trackers and log_path is None:
        raise ValueError("`log_path` of train_model must be given when `trackers` is (trackers write beside "
                         "the jsonl log). Got None instead.")
    if eval_at and eval_fn is None:
        raise ValueError("`eval_fn` of train_model must be given when `eval_steps` is. Got None instead.")

    set_seed(config.seed)  # python, numpy, torch
    # Mixed precision is our own autocast below: accelerate's process-wide state cannot change
    # precision between runs in one process.
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), log_with=list(trackers) if trackers else None,
                              project_dir=str(Path(log_path).parent) if trackers else None)
    device = accelerator.device
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    w2s = model  # attributes (tokenizer, pad id) live on the unwrapped model
    model, optimizer = accelerator.prepare(model, optimizer)
    initial = [p.detach().clone() for p in params] if "param_distance" in config.record else []
    model.train(config.dropout)  # dropout off = eval() semantics (MATH.md 8.3)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16,  # noqa: E731
                                      enabled=config.mixed_precision == "bf16")

    objective.fit(y_all)
    encoded = _encode(w2s, examples)
    lengths = _lengths(encoded)
    y_tensor = torch.as_tensor(y_all, dtype=torch.float32, device=device)
    warmup_steps = int(round(config.warmup_frac * total_steps))
    if trackers:
        accelerator.init_trackers("w2sg", config=config.model_dump(mode="json"))
    log_file = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
    recent_grads: deque[torch.Tensor] = deque(maxlen=config.gdv_window)
    history = TrainHistory(total_steps=total_steps)
    bar = _ProgressBar(total_steps, enabled=progress)
    start = time.perf_counter()
    step, epoch = 0, 0
    try:
        while step < total_steps:
            for batch_idx in _optimiser_batches(lengths, config.batch_size, config.seed, epoch):
                if step >= total_steps:
                    break
                micro = [batch_idx[i:i + config.micro] for i in range(0, len(batch_idx), config.micro)]
                progress_frac = step / total_steps
                statistics = None
                if objective.needs_batch_statistics:  # AUX threshold over the whole optimiser batch
                    with torch.no_grad(), autocast():
                        logits = torch.cat([model(_collate(w2s, encoded, m, device)).float() for m in micro])
                    statistics = objective.batch_statistics(logits, y_tensor[batch_idx])
                lr = learning_rate_at(step, total_steps, config.lr, warmup_steps=warmup_steps,
                                      schedule=config.schedule)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.zero_grad(set_to_none=True)
                loss_sum = 0.0
                for m in micro:
                    with autocast():
                        logits = model(_collate(w2s, encoded, m, device)).float()
                    per_example = objective(logits, y_tensor[m], progress=progress_frac, statistics=statistics)
                    loss = per_example.sum() / len(batch_idx)
                    accelerator.backward(loss)  # frees this micro-batch's graph
                    loss_sum += float(loss.detach())
                if not math.isfinite(loss_sum):
                    raise ValueError(
                        f"loss of train_model must stay finite. Got {loss_sum} at step {step + 1} instead.")
                record: dict[str, float] = {"step": step + 1, "epoch": epoch, "lr": lr, "loss": loss_sum}
                if "grad_norm" in config.record:
                    record["grad_norm"] = _grad_norm(params)  # after accumulation, before clipping
                if "gdv" in config.record:
                    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1)
                                      .float().cpu() for p in params])
                    if bool(flat.any()):  # a zero gradient has no direction: left out of the window
                        recent_grads.append(flat)
                    record["gdv"] = (gradient_direction_variance(list(recent_grads))
                                     if len(recent_grads) >= 2 else None)
                if config.max_grad_norm is not None:
                    accelerator.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                step += 1
                if "param_distance" in config.record:
                    record.update(_param_distance(named, initial))
                history.rows.append(record)
                if log_file is not None:
                    log_file.write(json.dumps(record) + "\n")
                    log_file.flush()
                if trackers and (step % config.log_every == 0 or step == total_steps):
                    accelerator.log({k: v for k, v in record.items() if v is not None}, step=step)
                if step in eval_at:
                    was_training = model.training
                    result = dict(eval_fn(model, step))  # type: ignore[misc]
                    model.train(was_training)
                    history.evaluations.append({"step": step, **result})
                if step % config.log_every == 0 or step == total_steps:
                    bar.update(step, loss_sum)
            epoch += 1
    finally:
        bar.close()
        if log_file is not None:
            log_file.close()
        if trackers:
            accelerator.end_training()
    history.wall_seconds = time.perf_counter() - start
    model.eval()
    return history


class _ProgressBar:
    """A rich progress bar (or nothing when disabled)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self._progress = None
        if enabled:
            from rich.progress import Progress

            self._progress = Progress(transient=True)
            self._task = self._progress.add_task("training", total=total)
            self._progress.start()

    def update(self, step: int, loss: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, description=f"training loss={loss:.4f}")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def predict_logits(
    model: torch.nn.Module, examples: Sequence[Any], *, batch_size: int = 32, progress: bool = True
) -> np.ndarray:
    """Logits ``z`` of ``model`` for ``examples``: eval mode, no gradients, float32, input order.

    Examples are batched by length (less padding); the output is restored to the input order. The
    model's train/eval mode is restored afterwards. A model with ``compute_dtype == "bf16"`` runs
    under its own bf16 autocast.

    Args:
        model: a ``W2SModel``.
        examples: examples to score.
        batch_size: examples per forward pass (>= 1).
        progress: show a progress bar.

    Returns:
        float32 array of shape (len(examples),).
    """
    import torch

    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"`batch_size` of predict_logits must be an int >= 1. Got {batch_size!r} instead.")
    if len(examples) == 0:
        return np.zeros(0, dtype=np.float32)
    device = next(model.parameters()).device
    encoded = _encode(model, examples)
    order = np.argsort(-_lengths(encoded), kind="stable")
    out = np.empty(len(examples), dtype=np.float32)
    was_training = model.training
    model.eval()
    bar = _ProgressBar(len(examples), enabled=progress)
    try:
        with torch.no_grad(), _model_autocast(model, device):
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                out[idx] = model(_collate(model, encoded, idx.tolist(), device)).float().cpu().numpy()
                bar.update(min(start + batch_size, len(order)), float("nan"))
    finally:
        bar.close()
        model.train(was_training)
    return out


def _model_autocast(model: Any, device: Any) -> Any:
    """The model's own autocast context (bf16 models), else a no-op."""
    import contextlib

    autocast = getattr(model, "autocast", None)
    return autocast(device.type) if callable(autocast) else contextlib.nullcontext()
