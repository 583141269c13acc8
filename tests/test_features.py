"""Tests for w2sg.features: cached frozen features and linear heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from tiny_models import one_torch_thread  # noqa: F401  (autouse fixture: one torch thread)
from tiny_models import tiny_bert
from w2sg.data import Example
from w2sg.features import HeadConfig, LinearHead, extract_features, feature_cache_key, train_linear_head
from w2sg.losses import make_objective
from w2sg.models import collate, load_model, tokenize


# ------------------------------------------------------------------------------------------------
# Linear heads


def _separable(n=80, h=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, h)) * np.array([1.0, 3.0, 0.5, 2.0, 1.0]) + np.array([0.5, -1.0, 0.0, 2.0, 0.0])
    w_true = np.array([1.0, -0.5, 2.0, 0.3, 0.0])
    y = ((x - x.mean(0)) @ w_true > 0).astype(np.float64)  # hard, separable labels
    return x, y


def _penalised_logreg(xs, y, lam):
    """Independent reference: argmin mean CE(y, sigmoid(xs w)) + lam/2 ||w||^2 with scipy."""

    def fun(w):
        z = xs @ w
        ce = -(y * log_expit(z) + (1 - y) * log_expit(-z)).mean()
        return ce + 0.5 * lam * w @ w, xs.T @ (expit(z) - y) / len(y) + lam * w

    res = minimize(fun, np.zeros(xs.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-12})
    return res.x


def test_ce_head_reaches_penalised_logistic_regression():
    x, y = _separable()
    lam = 0.05
    head = train_linear_head(x, y, make_objective("ce"),
                             HeadConfig(optimizer="lbfgs", epochs=30, weight_decay=lam))
    xs = (x - x.mean(0)) / x.std(0)
    reference = _penalised_logreg(xs, y, lam)
    np.testing.assert_allclose(head.weight, reference, atol=1e-4)
    np.testing.assert_allclose(head.predict_logits(x), xs @ reference, atol=1e-3)
    assert head.predict_logits(x).dtype == np.float32
    assert np.mean((head.predict_logits(x) > 0) == (y == 1)) > 0.95
    # Adam on the same objective gets close as well.
    adam = train_linear_head(x, y, make_objective("ce"), HeadConfig(optimizer="adam", epochs=300, lr=0.05,
                                                                     weight_decay=lam))
    np.testing.assert_allclose(adam.weight, reference, atol=2e-2)


def test_uncentred_head_is_antisymmetric_for_pairwise_features():
    x, y = _separable()
    head = train_linear_head(x, y, make_objective("ce"), HeadConfig(optimizer="lbfgs", epochs=50, center=False))
    np.testing.assert_array_equal(head.mean, 0.0)
    np.testing.assert_allclose(head.predict_logits(-x), -head.predict_logits(x), rtol=1e-6)


@pytest.mark.parametrize("name", ["rce", "aux", "sl", "cace"])
def test_other_objectives_decrease_their_loss(name):
    x, y = _separable()
    soft = np.clip(0.2 + 0.6 * y + np.random.default_rng(1).normal(0, 0.05, size=y.shape), 0, 1)
    params = {"warmup_frac": 0.0} if name == "aux" else {}
    head = train_linear_head(x, soft, make_objective(name, **params), HeadConfig(epochs=50, lr=0.05))
    objective = [r["objective"] for r in head.history]
    assert len(objective) == 50 and np.all(np.isfinite(objective))
    assert objective[-1] < objective[0] - 0.05
    assert np.mean((head.predict_logits(x) > 0) == (y == 1)) > 0.9


def test_aux_statistics_are_over_the_full_batch():
    x, y = _separable()
    inner = make_objective("aux")
    seen = []

    class Spy:
        needs_batch_statistics = True

        def fit(self, t):
            seen.append(("fit", len(t)))
            inner.fit(t)

        def batch_statistics(self, logits, targets):
            seen.append(("stats", logits.shape[0]))
            assert not logits.requires_grad
            return inner.batch_statistics(logits, targets)

        def __call__(self, logits, targets, *, progress, statistics):
            seen.append(("loss", round(progress, 6)))
            return inner(logits, targets, progress=progress, statistics=statistics)

    train_linear_head(x, y, Spy(), HeadConfig(epochs=4, optimizer="adam"))
    assert seen[0] == ("fit", len(y))
    assert [s for s in seen if s[0] == "stats"] == [("stats", len(y))] * 4
    assert [s[1] for s in seen if s[0] == "loss"] == [0.0, 0.25, 0.5, 0.75]


def test_head_is_deterministic_per_seed():
    x, y = _separable()
    cfg = dict(epochs=5, init_scale=0.5, optimizer="adam")
    a = train_linear_head(x, y, make_objective("ce"), HeadConfig(seed=1, **cfg))
    b = train_linear_head(x, y, make_objective("ce"), HeadConfig(seed=1, **cfg))
    c = train_linear_head(x, y, make_objective("ce"), HeadConfig(seed=2, **cfg))
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.allclose(a.weight, c.weight)


def test_constant_feature_column_is_left_unscaled():
    x, y = _separable()
    x[:, 2] = 7.0
    head = train_linear_head(x, y, make_objective("ce"), HeadConfig(optimizer="lbfgs", epochs=30))
    assert head.scale[2] == 1.0 and np.all(np.isfinite(head.weight))
    assert head.weight[2] == pytest.approx(0.0, abs=1e-12)  # centred to 0: no gradient reaches it


@pytest.mark.parametrize(
    ("features", "targets", "match"),
    [(np.zeros(5), np.zeros(5), "2-d"), (np.zeros((5, 0)), np.zeros(5), "2-d"),
     (np.array([[1.0, np.nan]] * 3), np.zeros(3), "finite"), (np.zeros((4, 2)), np.zeros(3), "one value"),
     (np.zeros((0, 2)), np.zeros(0), "one value"), (np.zeros((3, 2)), np.array([0, 1, 2.0]), r"\[0, 1\]")],
)
def test_train_linear_head_rejects_bad_input(features, targets, match):
    with pytest.raises(ValueError, match=match):
        train_linear_head(features, targets, make_objective("ce"), HeadConfig(epochs=1))


def test_head_config_and_predict_validation():
    for field, value in [("epochs", 0), ("lr", 0.0), ("weight_decay", -1.0), ("optimizer", "sgd"),
                         ("init_scale", -1.0), ("bogus", 1)]:
        with pytest.raises(ValidationError, match=field):
            HeadConfig(**{field: value})
    with pytest.raises(TypeError, match="HeadConfig"):
        train_linear_head(np.zeros((2, 2)), np.zeros(2), make_objective("ce"), {"epochs": 1})
    with pytest.raises(TypeError, match="Objective protocol"):
        train_linear_head(np.zeros((2, 2)), np.zeros(2), lambda z, y: z, HeadConfig(epochs=1))
    head = LinearHead(weight=np.ones(3), mean=np.zeros(3), scale=np.ones(3))
    with pytest.raises(ValueError, match="3 columns"):
        head.predict_logits(np.zeros((2, 4)))


# ------------------------------------------------------------------------------------------------
# Feature extraction and its cache

TEXTS = ["good movie", "bad film", "i love this book", "the food was terrible", "hello world",
         "cat sat on the mat", "very very good", "not bad"]
CLS = [Example.classification(t, i % 2) for i, t in enumerate(TEXTS)]
PAIRS = [Example.pair(TEXTS[i], TEXTS[i + 1], chosen_first=i % 4 == 0) for i in range(0, 8, 2)] + [
    Example.pair("the cat", "a dog sat on the mat", chosen_first=True)]


def _bert(kind="classification", **kw):
    path, _ = tiny_bert()
    return load_model(str(path), kind=kind, max_length=16, **kw)


class _CountingEmbed:
    """Wraps ``model.embed`` and counts the examples it is asked for."""

    def __init__(self, model):
        self.model, self.calls, self.examples = model, 0, 0
        self._embed = model.embed
        model.embed = self

    def __call__(self, batch):
        self.calls += 1
        self.examples += batch["input_ids"].shape[0]
        return self._embed(batch)


def _direct_embed(model, examples):
    encoded = tokenize(model, examples, max_length=model.max_length)
    model.eval()
    with torch.no_grad():
        return model.embed(collate(list(encoded.items), model.pad_token_id)).numpy()


def test_features_match_direct_embedding_without_cache():
    model = _bert()
    feats = extract_features(model, CLS, batch_size=3, progress=False)
    assert feats.dtype == np.float32 and feats.shape == (len(CLS), 32)
    np.testing.assert_allclose(feats, _direct_embed(model, CLS), atol=1e-5)


def test_cache_second_call_does_not_recompute(tmp_path):
    model = _bert()
    counter = _CountingEmbed(model)
    first = extract_features(model, CLS, batch_size=4, cache_dir=tmp_path, progress=False)
    assert counter.examples == len(CLS)
    second = extract_features(model, CLS[::-1], cache_dir=tmp_path, progress=False)
    assert counter.examples == len(CLS)  # nothing recomputed
    np.testing.assert_array_equal(second, first[::-1])
    # Only new examples are computed; old ones come from the cache.
    extra = Example.classification("weak teacher strong student", 1)
    third = extract_features(model, [CLS[0], extra], cache_dir=tmp_path, progress=False)
    assert counter.examples == len(CLS) + 1
    np.testing.assert_array_equal(third[0], first[0])
    assert not list(tmp_path.rglob(".tmp-*"))  # temporary files were moved into place


def test_cache_key_depends_on_model_settings_and_weights(tmp_path):
    base = feature_cache_key(_bert())
    assert feature_cache_key(_bert()) == base
    assert feature_cache_key(_bert(pooling="last")) != base
    path, _ = tiny_bert()
    assert feature_cache_key(load_model(str(path), kind="classification", max_length=8)) != base
    changed = _bert()
    with torch.no_grad():
        next(changed.backbone.parameters()).add_(1e-3)
    assert feature_cache_key(changed) != base
    # The score head is not part of the features, so it does not change the key.
    head_only = _bert(seed=7)
    assert feature_cache_key(head_only) == base


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_shape", "temporary"])
def test_corrupt_or_partial_cache_is_ignored(tmp_path, damage):
    model = _bert()
    good = extract_features(model, CLS, cache_dir=tmp_path, progress=False)
    (shard,) = [p for p in tmp_path.rglob("*.npz") if not p.name.startswith(".")]
    if damage == "garbage":
        shard.write_bytes(b"not an npz file")
    elif damage == "truncated":
        shard.write_bytes(shard.read_bytes()[:100])
    elif damage == "wrong_shape":
        np.savez(shard, ids=np.array([e.id for e in CLS]), features=np.zeros((3, 32), dtype=np.float32))
    else:  # a writer died before os.replace: only a temporary file exists
        shard.rename(shard.parent / ".tmp-dead.npz")
        (shard.parent / ".tmp-dead.npz").write_bytes(b"half")
    counter = _CountingEmbed(model)
    again = extract_features(model, CLS, cache_dir=tmp_path, progress=False)
    assert counter.examples == len(CLS)  # recomputed
    np.testing.assert_allclose(again, good, atol=1e-6)
    counter.examples = 0
    extract_features(model, CLS, cache_dir=tmp_path, progress=False)
    assert counter.examples == 0  # the rewritten shard is used


def test_pairwise_features_are_differences_and_give_the_model_logit(tmp_path):
    pair_model = _bert(kind="pairwise")
    feats = extract_features(pair_model, PAIRS, batch_size=2, cache_dir=tmp_path, progress=False)
    single = _bert()  # same backbone, one text at a time
    a = _direct_embed(single, [Example.classification(e.texts[0], 0) for e in PAIRS])
    b = _direct_embed(single, [Example.classification(e.texts[1], 0) for e in PAIRS])
    np.testing.assert_allclose(feats, a - b, atol=1e-5)
    # A bias-free linear head on the features gives the model's own z = r(a) - r(b).
    encoded = tokenize(pair_model, PAIRS, max_length=pair_model.max_length)
    pair_model.eval()
    with torch.no_grad():
        z = pair_model(collate(list(encoded.items), pair_model.pad_token_id)).numpy()
    w = pair_model.score.weight.detach().numpy().reshape(-1)
    np.testing.assert_allclose(feats @ w, z, atol=1e-5)
    assert np.abs(z).max() > 1e-4


def test_extract_features_edge_cases():
    model = _bert()
    assert extract_features(model, [], progress=False).shape == (0, 0)
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(model, CLS, batch_size=0)
    twice = extract_features(model, [CLS[1], CLS[1]], progress=False)
    np.testing.assert_array_equal(twice[0], twice[1])
