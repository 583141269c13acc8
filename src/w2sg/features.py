r"""Frozen features and bias-free linear heads: fast, honest CPU runs.

:func:`extract_features` runs a frozen backbone once per example and caches the pooled features on
disk, keyed by the model's identity (source, weights, pooling, max length, tokenizer) and the
example id, so seeds and stages share one extraction. For a pairwise example the feature is
:math:`e(a) - e(b)`, so a bias-free linear head :math:`w` gives :math:`z = r(a) - r(b)` with
:math:`r(x) = w^\top e(x)`.

:func:`train_linear_head` fits such a head full-batch with any objective of the :mod:`w2sg.losses`
protocol (CE, RCE, AUX, ...), on standardised features, with an L2 penalty.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

__all__ = ["extract_features", "feature_cache_key", "HeadConfig", "LinearHead", "train_linear_head"]

_log = logging.getLogger(__name__)
_CACHE_FORMAT = 1


# --------------------------------------------------------------------------------------------------
# Feature extraction with an on-disk cache


def feature_cache_key(model: Any) -> str:
    """Identity of a frozen feature extractor: what decides its features, hashed (16 hex digits).

    It covers the model source, kind, pooling and ``max_length``, the tokenizer's name and
    padding/truncation sides, and a SHA-256 of every backbone tensor (so a fine-tuned or re-seeded
    backbone never reads another's features).
    """
    import torch

    digest = hashlib.sha256()
    tokenizer = getattr(model, "tokenizer", None)
    identity = {
        "format": _CACHE_FORMAT,
        "source": str(getattr(model, "source", None)),
        "name_or_path": str(getattr(getattr(getattr(model, "backbone", None), "config", None), "_name_or_path", None)),
        "truncation_side": str(getattr(model, "truncation_side", None)),
        "class": type(getattr(model, "backbone", model)).__name__,
        "kind": str(getattr(model, "kind", None)),
        "pooling": str(getattr(model, "pooling", None)),
        "max_length": getattr(model, "max_length", None),
        "tokenizer": [str(getattr(tokenizer, a, None)) for a in ("name_or_path", "padding_side", "truncation_side")]
        + [len(tokenizer) if tokenizer is not None and hasattr(tokenizer, "__len__") else None],
    }
    digest.update(json.dumps(identity, sort_keys=True).encode())
    backbone = getattr(model, "backbone", model)
    for name, tensor in sorted(backbone.state_dict().items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        # Raw bytes of any dtype (bf16 has no numpy twin): view the contiguous storage as uint8.
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def extract_features(
    model: Any,
    examples: Sequence[Any],
    *,
    batch_size: int = 64,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> np.ndarray:
    r"""Pooled features of a frozen ``model`` for ``examples``, float32 ``[n, H]``, input order.

    Classification: :math:`\phi(x) = e(x)`; pairwise: :math:`\phi(a, b) = e(a) - e(b)`, where
    :math:`e` is ``model.embed`` (eval mode, no gradients).

    With ``cache_dir``, features are stored under ``cache_dir/<feature_cache_key(model)>/`` as
    ``.npz`` shards of ``(ids, features)``, each written to a temporary file and moved into place with
    ``os.replace``, so a reader never sees a half-written shard. Unreadable or inconsistent shards
    are ignored (and their examples recomputed). Only examples not found in the cache are run.

    Args:
        model: a ``W2SModel`` (``embed``, ``tokenizer``, ``kind``, ``pooling``, ``max_length``).
        examples: ``w2sg.data.Example`` objects (their ``id`` keys the cache).
        batch_size: examples per forward pass (>= 1).
        cache_dir: cache folder, or ``None`` for no caching.
        progress: show a progress bar.

    Returns:
        float32 array of shape (len(examples), H).
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"`batch_size` of extract_features must be an int >= 1. Got {batch_size!r} instead.")
    ids = [str(ex.id) for ex in examples]
    folder = Path(cache_dir) / feature_cache_key(model) if cache_dir is not None else None
    known = _read_cache(folder) if folder is not None else {}
    todo: dict[str, Any] = {}
    for ex, ex_id in zip(examples, ids, strict=True):
        if ex_id not in known and ex_id not in todo:
            todo[ex_id] = ex
    if todo:
        computed = _embed_all(model, list(todo.values()), batch_size=batch_size, progress=progress)
        fresh = dict(zip(todo, computed, strict=True))
        if folder is not None:
            _write_shard(folder, list(fresh), computed)
        known.update(fresh)
    if not ids:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([known[i] for i in ids]).astype(np.float32, copy=False)


def _embed_all(model: Any, examples: list[Any], *, batch_size: int, progress: bool) -> np.ndarray:
    import torch
    from w2sg.models import collate, tokenize

    encoded = tokenize(model, examples, max_length=model.max_length,
                       truncation_side=getattr(model, "truncation_side", "left"))
    order = np.argsort(-np.asarray(encoded.lengths), kind="stable")  # longest first: less padding
    device = next(model.parameters()).device
    rows: list[np.ndarray | None] = [None] * len(examples)
    was_training = model.training
    model.eval()
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("features", total=len(examples))
        bar.start()
    try:
        autocast = getattr(model, "autocast", None)  # bf16 models run under their own autocast
        with torch.no_grad(), (autocast(device.type) if callable(autocast) else contextlib.nullcontext()):
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size].tolist()
                batch = {k: v.to(device) for k, v in collate([encoded[i] for i in idx], model.pad_token_id).items()}
                emb = model.embed(batch).float()
                if emb.ndim == 3:  # pairwise [B, 2, H]: r(a) - r(b) for a linear head
                    emb = emb[:, 0] - emb[:, 1]
                for i, row in zip(idx, emb.cpu().numpy(), strict=True):
                    rows[i] = row
                if bar is not None:
                    bar.update(task, completed=start + len(idx))
    finally:
        if bar is not None:
            bar.stop()
        model.train(was_training)
    return np.stack(rows).astype(np.float32)  # type: ignore[arg-type]


def _read_cache(folder: Path) -> dict[str, np.ndarray]:
    known: dict[str, np.ndarray] = {}
    if not folder.is_dir():
        return known
    width = None
    for shard in sorted(folder.glob("*.npz")):
        if shard.name.startswith("."):
            continue  # temporary file of a writer
        try:
            with np.load(shard, allow_pickle=False) as data:
                ids, feats = data["ids"], data["features"]
            ok = (ids.ndim == 1 and feats.ndim == 2 and len(ids) == len(feats) and feats.dtype == np.float32
                  and bool(np.all(np.isfinite(feats))) and (width is None or feats.shape[1] == width))
        except Exception as error:  # a truncated or foreign file: recompute its rows
            _log.warning("ignoring unreadable feature cache file %s (%s)", shard, error)
            continue
        if not ok:
            _log.warning("ignoring inconsistent feature cache file %s", shard)
            continue
        width = feats.shape[1]
        known.update(zip(ids.tolist(), feats, strict=True))
    return known


def _write_shard(folder: Path, ids: list[str], feats: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, ids=np.array(ids, dtype=str), features=feats.astype(np.float32))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / f"{name}.npz")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------------
# Linear heads


class HeadConfig(BaseModel):
    """Full-batch training of a bias-free linear head (validated; unknown keys are errors).

    Attributes:
        epochs: full-batch updates (one Adam step, or one L-BFGS iteration with line search).
        lr: step size; ``None`` means 0.05 for Adam/AdamW and 1.0 for L-BFGS.
        weight_decay: L2 penalty :math:`\\lambda` (>= 0), added as :math:`\\frac\\lambda2\\lVert w\\rVert^2`
            (AdamW: decoupled decay instead).
        optimizer: ``"adam"``, ``"adamw"`` or ``"lbfgs"`` (strong-Wolfe line search).
        seed: seeds the initial weights when ``init_scale > 0``.
        init_scale: standard deviation of the initial weights; 0 starts at :math:`w = 0`.
        center: subtract the feature mean before scaling. Use ``False`` for pairwise features so
            that :math:`z(a, b) = -z(b, a)` holds exactly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=300, ge=1)
    lr: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(default=1e-3, ge=0, allow_inf_nan=False)
    optimizer: Literal["adam", "adamw", "lbfgs"] = "adam"
    seed: int = 0
    init_scale: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    center: bool = True


@dataclass(frozen=True)
class LinearHead:
    r"""A trained bias-free head on standardised features: :math:`z = w^\top (x - \mu) / s`.

    Attributes:
        weight: ``w``, float64 of shape (H,).
        mean: ``mu`` of shape (H,) (zeros when not centred).
        scale: ``s`` of shape (H,); columns with zero spread get 1.
        history: per-epoch ``{"epoch", "loss", "objective"}`` (mean loss, loss plus penalty).
    """

    weight: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)

    def predict_logits(self, features: np.ndarray) -> np.ndarray:
        """Logits ``z`` for features of shape (n, H), float32 of shape (n,)."""
        x = _check_features(features, "LinearHead.predict_logits")
        if x.shape[1] != self.weight.shape[0]:
            raise ValueError(
                f"`features` of LinearHead.predict_logits must have {self.weight.shape[0]} columns. "
                f"Got {x.shape[1]} instead."
            )
        return (((x - self.mean) / self.scale) @ self.weight).astype(np.float32)


def _check_features(features: Any, owner: str) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"`features` of {owner} must be a 2-d array (n, H) with H >= 1. Got shape {x.shape} instead.")
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"`features` of {owner} must be finite. Got {x[tuple(bad[0])]} at row {bad[0][0]} instead.")
    return x


def train_linear_head(
    features: np.ndarray,
    targets: Sequence[float] | np.ndarray,
    objective: Any,
    config: HeadConfig | None = None,
) -> LinearHead:
    r"""Fit a bias-free linear head on frozen features with a :mod:`w2sg.losses` objective.

    Let :math:`x_i` be row ``i`` of ``features`` (n, H), standardised to
    :math:`\tilde x_i = (x_i - \mu) / s`, and :math:`y_i` the soft target. Full-batch training
    minimises

    .. math::
        J(w) = \frac1n \sum_{i=1}^n \ell\big(w^\top \tilde x_i,\ y_i;\ \text{progress}, S\big)
               + \frac\lambda2 \lVert w\rVert_2^2,

    with progress = epoch / epochs and :math:`S` the objective's batch statistics over all n
    examples (AUX, Eq. 9/40), recomputed each epoch. With CE this is L2-penalised logistic
    regression. Computed in float64; deterministic for a given ``config.seed``.

    Args:
        features: array of shape (n, H), finite.
        targets: soft labels in [0, 1] of shape (n,).
        objective: follows the ``w2sg.losses`` protocol.
        config: a :class:`HeadConfig` (default ``HeadConfig()``).

    Returns:
        The trained :class:`LinearHead` (mean and scale stored, applied by ``predict_logits``).
    """
    import torch

    config = HeadConfig() if config is None else config
    if not isinstance(config, HeadConfig):
        raise TypeError(f"`config` of train_linear_head must be a HeadConfig. Got {type(config).__name__} instead.")
    x = _check_features(features, "train_linear_head")
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if y.shape[0] != x.shape[0] or x.shape[0] == 0:
        raise ValueError(
            f"`targets` of train_linear_head must have one value per feature row ({x.shape[0]}, >= 1). "
            f"Got {y.shape[0]} instead."
        )
    bad = np.flatnonzero(~np.isfinite(y) | (y < 0) | (y > 1))
    if bad.size:
        raise ValueError(
            f"`targets` of train_linear_head must be in [0, 1]. Got {y[bad[0]]!r} at row {bad[0]} instead.")

    from w2sg.train import check_objective

    check_objective(objective, "train_linear_head")
    mean = x.mean(axis=0) if config.center else np.zeros(x.shape[1])
    scale = x.std(axis=0) if config.center else np.sqrt((x**2).mean(axis=0))
    scale = np.where(scale > 0, scale, 1.0)  # constant columns: leave as they are
    xs = torch.as_tensor((x - mean) / scale, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    generator = torch.Generator().manual_seed(config.seed)
    w0 = torch.randn(x.shape[1], generator=generator, dtype=torch.float64) * config.init_scale
    w = torch.nn.Parameter(w0)
    objective.fit(y)
    lam = config.weight_decay
    if config.optimizer == "lbfgs":
        optimizer: torch.optim.Optimizer = torch.optim.LBFGS(
            [w], lr=config.lr or 1.0, max_iter=1, history_size=20, line_search_fn="strong_wolfe",
            tolerance_grad=1e-12, tolerance_change=1e-15)
    elif config.optimizer == "adam":
        optimizer = torch.optim.Adam([w], lr=config.lr or 0.05)
    else:
        optimizer = torch.optim.AdamW([w], lr=config.lr or 0.05, weight_decay=lam)
    penalty_in_loss = config.optimizer != "adamw"

    history: list[dict[str, float]] = []
    for epoch in range(config.epochs):
        progress = epoch / config.epochs
        statistics = None
        if objective.needs_batch_statistics:  # AUX threshold over the full batch
            with torch.no_grad():
                statistics = objective.batch_statistics(xs @ w, yt)
        record: dict[str, float] = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = objective(xs @ w, yt, progress=progress, statistics=statistics).mean()
            total = loss + 0.5 * lam * (w @ w) if penalty_in_loss else loss
            total.backward()
            record.setdefault("loss", float(loss.detach()))
            record.setdefault("objective", float(total.detach()))
            return total

        optimizer.step(closure)
        if not math.isfinite(record["objective"]):
            raise ValueError(f"objective of train_linear_head must stay finite. Got {record['objective']} "
                             f"at epoch {epoch} instead.")
        history.append({"epoch": epoch, **record})
    return LinearHead(weight=w.detach().numpy().copy(), mean=mean, scale=scale, history=history)
