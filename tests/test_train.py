"""Tests for w2sg.train: schedule, GDV, config validation and the loop on a tiny GPT-2."""

from __future__ import annotations

import itertools
import json
import math
import weakref

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tiny_models import one_torch_thread  # noqa: F401  (autouse fixture: one torch thread)
from tiny_models import tiny_gpt2
from w2sg.data import Example
from w2sg.losses import make_objective
from w2sg.models import collate, load_model, tokenize
from w2sg.train import (
    TrainConfig,
    gradient_direction_variance,
    learning_rate_at,
    predict_logits,
    train_model,
)


# ------------------------------------------------------------------------------------------------
# learning_rate_at


def test_cosine_schedule_hand_values():
    # CosineAnnealingLR(T_max=4), eta_min = 0: 1, (1 + cos(pi/4))/2, 1/2, (1 + cos(3pi/4))/2
    got = [learning_rate_at(t, 4, 2.0) for t in range(4)]
    want = [2.0, 2.0 * 0.8535533905932737, 1.0, 2.0 * 0.14644660940672624]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_schedule_matches_torch_cosine_annealing():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7)
    for t in range(7):
        assert learning_rate_at(t, 7, 0.3) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()


def test_warmup_then_cosine_and_constant():
    # W = 2, T = 6: warm-up 1/2, 1; then cosine over 4 steps from 1.
    got = [learning_rate_at(t, 6, 1.0, warmup_steps=2) for t in range(6)]
    want = [0.5, 1.0, 1.0, 0.8535533905932737, 0.5, 0.14644660940672624]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    const = [learning_rate_at(t, 6, 1.0, warmup_steps=2, schedule="constant") for t in range(6)]
    assert const == [0.5, 1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [((4, 4, 1.0), {}, "step"), ((-1, 4, 1.0), {}, "step"), ((0, 0, 1.0), {}, "total_steps"),
     ((0, 4, 1.0), {"warmup_steps": 4}, "warmup_steps"), ((0, 4, 1.0), {"schedule": "linear"}, "schedule")],
)
def test_schedule_rejects_bad_arguments(args, kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        learning_rate_at(*args, **kwargs)


# ------------------------------------------------------------------------------------------------
# GDV (Eq. 43)


def _gdv_pairs(rows):
    """Independent O(m^2) definition: mean over pairs of (1 - cos)/2."""
    vals = []
    for a, b in itertools.combinations(rows, 2):
        cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
        vals.append(0.5 * (1 - cos))
    return float(np.mean(vals))


def test_gdv_identical_opposite_and_hand_worked():
    g = np.array([0.3, -1.2, 2.0])
    assert gradient_direction_variance([g, g, 2 * g]) == pytest.approx(0.0, abs=1e-12)
    assert gradient_direction_variance([g, -g]) == pytest.approx(1.0, abs=1e-12)
    # (1,0), (0,1), (1,1): cosines 0, 1/sqrt2, 1/sqrt2 -> (1/2 + 2 * (1 - 1/sqrt2)/2) / 3
    hand = (0.5 + (1 - 1 / math.sqrt(2))) / 3
    assert gradient_direction_variance([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) == pytest.approx(hand, rel=1e-12)
    assert hand == pytest.approx(0.2642977396044841)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 6).flatmap(lambda m: st.lists(
    st.lists(st.floats(-10, 10, allow_nan=False), min_size=4, max_size=4).filter(
        lambda v: np.linalg.norm(v) > 1e-3), min_size=m, max_size=m)))
def test_gdv_matches_pairwise_definition(rows):
    rows = [np.array(r) for r in rows]
    got = gradient_direction_variance(rows)
    assert 0.0 <= got <= 1.0
    assert got == pytest.approx(_gdv_pairs(rows), abs=1e-9)


def test_gdv_accepts_bf16_tensors_and_rejects_degenerate_input():
    g = torch.tensor([1.0, 2.0, 3.0], dtype=torch.bfloat16)
    assert gradient_direction_variance([g, -g]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=">= 2"):
        gradient_direction_variance([g])
    with pytest.raises(ValueError, match="zero vector"):
        gradient_direction_variance([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="one size"):
        gradient_direction_variance([[1.0, 0.0], [1.0]])
    with pytest.raises(ValueError, match="finite"):
        gradient_direction_variance([[1.0, np.inf], [1.0, 0.0]])


# ------------------------------------------------------------------------------------------------
# TrainConfig validation


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 0), ("max_steps", 0), ("batch_size", 0), ("micro_batch_size", 0), ("lr", 0.0),
     ("lr", float("nan")), ("optimizer", "sgd"), ("weight_decay", -1.0), ("schedule", "linear"),
     ("warmup_frac", 1.0), ("warmup_frac", -0.1), ("max_grad_norm", 0.0), ("mixed_precision", "fp16"),
     ("record", {"accuracy"}), ("record", "loss"), ("gdv_window", 1), ("log_every", 0), ("unknown", 1)],
)
def test_config_rejects_each_bad_field(field, value):
    with pytest.raises(ValidationError, match=field):
        TrainConfig(**{field: value})


def test_config_micro_batch_must_fit_batch():
    with pytest.raises(ValidationError, match="micro_batch_size"):
        TrainConfig(batch_size=4, micro_batch_size=8)
    assert TrainConfig(batch_size=4).micro == 4
    assert TrainConfig(batch_size=4, micro_batch_size=3).micro == 3


# ------------------------------------------------------------------------------------------------
# The loop on a tiny GPT-2

_POS = ["good movie", "great film", "i love this book", "very good food", "really great service",
        "love it", "good good", "i like the movie"]
_NEG = ["bad movie", "terrible film", "i hate this book", "very bad food", "really terrible service",
        "hate it", "bad bad", "not good the movie"]
EXAMPLES = [Example.classification(t, 1) for t in _POS] + [Example.classification(t, 0) for t in _NEG]
LABELS = np.array([ex.label for ex in EXAMPLES], dtype=np.float64)
SOFT = np.clip(0.15 + 0.7 * LABELS + np.linspace(-0.1, 0.1, len(LABELS)), 0, 1)


def _model(seed: int = 0):
    path, _ = tiny_gpt2()
    return load_model(str(path), kind="classification", max_length=16, seed=seed)


def _params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _mean_ce(model, targets):
    z = torch.as_tensor(predict_logits(model, EXAMPLES, progress=False), dtype=torch.float64)
    return float(torch.nn.functional.binary_cross_entropy_with_logits(z, torch.as_tensor(targets)))


def test_ce_training_decreases_loss_and_changes_parameters():
    model = _model()
    before, start = _mean_ce(model, LABELS), _params(model)
    config = TrainConfig(epochs=10, batch_size=4, lr=3e-3, seed=0)
    history = train_model(model, EXAMPLES, LABELS, make_objective("ce"), config, progress=False)
    assert history.total_steps == 40 and len(history.rows) == 40
    after = _mean_ce(model, LABELS)
    assert after < before - 0.1, (before, after)
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, start[n])]
    assert "score.weight" in changed and any(n.startswith("backbone.") for n in changed)
    assert np.all(np.isfinite(history.series("loss")))


@pytest.mark.parametrize("objective", ["ce", "aux"])
def test_micro_batch_size_does_not_change_result(objective):
    finals = []
    for micro in (1, 2, 4):
        model = _model()
        config = TrainConfig(max_steps=4, batch_size=4, micro_batch_size=micro, lr=1e-3, seed=3)
        obj = make_objective(objective, **({"warmup_frac": 0.25} if objective == "aux" else {}))
        history = train_model(model, EXAMPLES, SOFT, obj, config, progress=False)
        finals.append((_params(model), history.series("loss"), history.series("grad_norm")))
    for params, losses, norms in finals[1:]:
        # Adam is invariant to a constant gradient scale, so the loss and the accumulated gradient's
        # norm are compared as well: a wrong 1/|micro| scaling or per-micro AUX threshold shows there.
        np.testing.assert_allclose(losses, finals[0][1], rtol=1e-5)
        np.testing.assert_allclose(norms, finals[0][2], rtol=1e-4)
        for name, value in params.items():
            torch.testing.assert_close(value, finals[0][0][name], atol=1e-5, rtol=0)
    # The run moved far enough that a wrong accumulation would show.
    assert max(float((finals[0][0][n] - p).abs().max()) for n, p in _params(_model()).items()) > 2e-3


def test_no_graph_is_kept_across_micro_batches():
    """Saved activations of a micro-batch must be freed before the next micro-batch's forward."""
    holders: list[weakref.ref] = []
    alive_at_forward: list[int] = []

    class Holder:
        def __init__(self, t):
            self.t = t

    def pack(t):
        h = Holder(t)
        holders.append(weakref.ref(h))
        return h

    model = _model()
    original_forward = model.forward

    def counting_forward(batch):
        if torch.is_grad_enabled():
            alive_at_forward.append(sum(r() is not None for r in holders))
        return original_forward(batch)

    model.forward = counting_forward
    config = TrainConfig(max_steps=2, batch_size=4, micro_batch_size=1, lr=1e-3)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda h: h.t):
        train_model(model, EXAMPLES, SOFT, make_objective("aux"), config, progress=False)
    assert len(alive_at_forward) == 8  # 2 steps x 4 micro-batches with grad
    assert holders, "the hook saw no saved tensors, so the check would be vacuous"
    assert alive_at_forward == [0] * 8


def test_recorded_grad_norm_matches_manual_one_step():
    model = _model()
    reference = _model()
    config = TrainConfig(max_steps=1, batch_size=len(EXAMPLES), micro_batch_size=5, lr=1e-3,
                         max_grad_norm=1e-3)  # clipping must not change the recorded (pre-clip) norm
    history = train_model(model, EXAMPLES, SOFT, make_objective("ce"), config, progress=False)
    encoded = tokenize(reference, EXAMPLES, max_length=reference.max_length)
    batch = collate(list(encoded.items), reference.pad_token_id)
    reference.eval()
    z = reference(batch)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, torch.as_tensor(SOFT, dtype=torch.float32))
    loss.backward()
    manual = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in reference.parameters()
                           if p.grad is not None))
    assert manual > 0
    assert history.rows[0]["grad_norm"] == pytest.approx(manual, rel=1e-4)
    assert history.rows[0]["loss"] == pytest.approx(float(loss.detach()), rel=1e-5)


def test_param_distance_matches_manual_and_splits_head_backbone():
    model = _model()
    config = TrainConfig(max_steps=3, batch_size=4, lr=1e-2)
    history = train_model(model, EXAMPLES, SOFT, make_objective("ce"), config, progress=False)
    start = _params(_model())
    model.requires_grad_(False)
    head = sum(float((p.double() - start[n].double()).pow(2).sum()) for n, p in model.named_parameters()
               if n.startswith("score."))
    backbone = sum(float((p.double() - start[n].double()).pow(2).sum()) for n, p in model.named_parameters()
                   if not n.startswith("score."))
    last = history.rows[-1]
    assert last["param_distance"] == pytest.approx(math.sqrt(head + backbone), rel=1e-6)
    assert last["param_distance_head"] == pytest.approx(math.sqrt(head), rel=1e-6)
    assert last["param_distance_backbone"] == pytest.approx(math.sqrt(backbone), rel=1e-6)
    assert head > 0 and backbone > 0
    assert np.all(np.diff(history.series("param_distance")) != 0)


def test_seed_makes_runs_identical_and_different_seeds_differ():
    def run(seed):
        model = _model()
        config = TrainConfig(max_steps=4, batch_size=4, lr=1e-2, seed=seed, dropout=True)
        history = train_model(model, EXAMPLES, SOFT, make_objective("ce"), config, progress=False)
        return _params(model), history.series("loss")

    (p1, l1), (p2, l2), (p3, l3) = run(5), run(5), run(6)
    assert all(torch.equal(p1[n], p2[n]) for n in p1)
    np.testing.assert_array_equal(l1, l2)
    assert any(not torch.equal(p1[n], p3[n]) for n in p1)


def test_jsonl_log_written_per_step_and_appended(tmp_path):
    log = tmp_path / "curves" / "run.jsonl"
    log.parent.mkdir()
    config = TrainConfig(max_steps=5, batch_size=4, lr=1e-3, record={"loss", "grad_norm", "gdv"},
                         gdv_window=3)
    history = train_model(_model(), EXAMPLES, SOFT, make_objective("ce"), config, log_path=log, progress=True)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4, 5]
    assert [r["lr"] for r in lines] == [learning_rate_at(t, 5, 1e-3) for t in range(5)]
    assert lines == [json.loads(json.dumps(r)) for r in history.rows]
    assert lines[0]["gdv"] is None and all(0.0 <= r["gdv"] <= 1.0 for r in lines[1:])
    assert "param_distance" not in lines[0]
    train_model(_model(), EXAMPLES, SOFT, make_objective("ce"), config, log_path=log, progress=False)
    assert len(log.read_text().splitlines()) == 10


def test_gdv_recorded_equals_gdv_of_step_gradients():
    """The loop's GDV is Eq. 43 over the last `gdv_window` optimiser-step gradients."""
    grads = []
    model = _model()
    params = [p for p in model.parameters() if p.requires_grad]

    original_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        grads.append(torch.cat([p.grad.reshape(-1).clone() for p in params]))
        return original_step(self, *args, **kwargs)

    config = TrainConfig(max_steps=4, batch_size=4, lr=1e-2, record={"gdv"}, gdv_window=2)
    torch.optim.Adam.step = spy
    try:
        history = train_model(model, EXAMPLES, SOFT, make_objective("ce"), config, progress=False)
    finally:
        torch.optim.Adam.step = original_step
    assert len(grads) == 4
    for step in range(1, 4):
        assert history.rows[step]["gdv"] == pytest.approx(_gdv_pairs([g.numpy() for g in grads[step - 1:step + 1]]),
                                                          rel=1e-5)


def test_eval_fn_runs_only_at_requested_steps_and_targets_by_id():
    calls = []

    def eval_fn(model, step):
        calls.append((step, model.training))
        return {"mean_logit": float(predict_logits(model, EXAMPLES[:2], progress=False).mean())}

    config = TrainConfig(max_steps=4, batch_size=4, lr=1e-3, dropout=True)
    by_id = {ex.id: float(y) for ex, y in zip(EXAMPLES, SOFT, strict=True)}
    history = train_model(_model(), EXAMPLES, by_id, make_objective("ce"), config, progress=False,
                          eval_fn=eval_fn, eval_steps=[2, 4])
    assert [c[0] for c in calls] == [2, 4]
    assert [e["step"] for e in history.evaluations] == [2, 4]
    reference = train_model(_model(), EXAMPLES, SOFT, make_objective("ce"), config, progress=False)
    np.testing.assert_array_equal(history.series("loss"), reference.series("loss"))


def test_bf16_mixed_precision_trains_with_finite_float32_logits():
    path, _ = tiny_gpt2()
    model = load_model(str(path), kind="classification", max_length=16, dtype="bf16")
    reference = _model()
    config = TrainConfig(max_steps=3, batch_size=4, lr=1e-2, mixed_precision="bf16")
    history = train_model(model, EXAMPLES, SOFT, make_objective("ce"), config, progress=False)
    fp32 = train_model(reference, EXAMPLES, SOFT, make_objective("ce"), config.model_copy(
        update={"mixed_precision": "no"}), progress=False)
    assert np.all(np.isfinite(history.series("loss")))
    np.testing.assert_allclose(history.series("loss"), fp32.series("loss"), atol=2e-2)
    assert not np.array_equal(history.series("loss"), fp32.series("loss"))  # autocast did run in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())
    z = predict_logits(model, EXAMPLES, progress=False)
    assert z.dtype == np.float32 and np.all(np.isfinite(z))
    np.testing.assert_allclose(z, predict_logits(reference, EXAMPLES, progress=False), atol=0.1)


def test_tensorboard_tracker_writes_events(tmp_path):
    pytest.importorskip("tensorboard")
    config = TrainConfig(max_steps=2, batch_size=4, lr=1e-3)
    train_model(_model(), EXAMPLES, SOFT, make_objective("ce"), config, log_path=tmp_path / "log.jsonl",
                progress=False, trackers=["tensorboard"])
    assert list(tmp_path.rglob("events.out.tfevents*"))


def test_predict_logits_order_dtype_and_mode():
    model = _model()
    with torch.no_grad():
        model.score.weight.normal_()
    model.train()
    out = predict_logits(model, EXAMPLES, batch_size=3, progress=False)
    assert out.dtype == np.float32 and out.shape == (len(EXAMPLES),)
    assert model.training  # mode restored
    model.eval()
    for i in (0, 5, 11):
        single = predict_logits(model, [EXAMPLES[i]], batch_size=1, progress=False)
        assert single[0] == pytest.approx(out[i], abs=1e-5)
    assert len(set(np.round(out, 5))) > 1
    assert predict_logits(model, [], progress=False).shape == (0,)
    with pytest.raises(ValueError, match="batch_size"):
        predict_logits(model, EXAMPLES, batch_size=0)


@pytest.mark.parametrize(
    ("targets", "match"),
    [(SOFT[:-1], "one value per example"), (np.where(SOFT > 0.5, 1.5, SOFT), r"\[0, 1\]"),
     ({"nope": 0.5}, "every example id")],
)
def test_train_model_rejects_bad_targets(targets, match):
    with pytest.raises(ValueError, match=match):
        train_model(_model(), EXAMPLES, targets, make_objective("ce"), TrainConfig(max_steps=1), progress=False)


def test_train_model_rejects_bad_config_and_eval_steps():
    with pytest.raises(TypeError, match="TrainConfig"):
        train_model(_model(), EXAMPLES, SOFT, make_objective("ce"), {"epochs": 1}, progress=False)
    with pytest.raises(ValueError, match="eval_steps"):
        train_model(_model(), EXAMPLES, SOFT, make_objective("ce"), TrainConfig(max_steps=2), progress=False,
                    eval_fn=lambda m, s: {}, eval_steps=[3])
    with pytest.raises(TypeError, match="Objective protocol"):
        train_model(_model(), EXAMPLES, SOFT, torch.nn.functional.binary_cross_entropy_with_logits,
                    TrainConfig(max_steps=1), progress=False)
    with pytest.raises(ValueError, match="log_path"):
        train_model(_model(), EXAMPLES, SOFT, make_objective("ce"), TrainConfig(max_steps=1), progress=False,
                    trackers=["tensorboard"])
    with pytest.raises(ValueError, match="non-empty"):
        train_model(_model(), [], [], make_objective("ce"), TrainConfig(max_steps=1), progress=False)
