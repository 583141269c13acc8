"""w2sg.models on tiny random-init GPT-2 and BERT: pooling, heads, LoRA, batching, export."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import tiny_bert, tiny_gpt2  # noqa: E402

from w2sg.models import (  # noqa: E402
    collate,
    export_sequence_classifier,
    last_token_index,
    length_grouped_batches,
    load_model,
    mean_pool,
    resolve_source,
    tokenize,
)

try:
    from w2sg.data import Example
except ImportError:  # the data module may not exist yet

    @dataclass(frozen=True)
    class Example:  # type: ignore[no-redef]
        id: str
        texts: tuple[str, ...]
        label: int


@dataclass(frozen=True)
class _Loose:
    """Unvalidated stand-in for Example, to reach tokenize's own checks."""

    id: str
    texts: tuple
    label: int


def _cls(*texts: str) -> list[Example]:
    return [Example(id=str(i), texts=(t,), label=i % 2) for i, t in enumerate(texts)]


def _pairs(*pairs: tuple[str, str]) -> list[Example]:
    return [Example(id=str(i), texts=p, label=1) for i, p in enumerate(pairs)]


@pytest.fixture(scope="module")
def gpt2_cls():
    model = load_model(tiny_gpt2()[0], kind="classification")
    with torch.no_grad():
        torch.nn.init.normal_(model.score.weight, generator=torch.Generator().manual_seed(1))
    return model.eval()


# ------------------------------------------------------------------ loading and heads


def test_gpt2_gets_pad_eos_last_pooling_and_zero_head():
    path, tokenizer = tiny_gpt2()
    assert tokenizer.pad_token is None
    assert tokenizer.convert_tokens_to_ids("!") == 0
    model = load_model(path, kind="classification")
    eos = model.tokenizer.eos_token_id
    assert model.pooling == "last"
    assert model.tokenizer.pad_token_id == eos != 0
    assert model.config.pad_token_id == eos
    assert model.score.bias is None and tuple(model.score.weight.shape) == (2, 32)
    assert torch.count_nonzero(model.score.weight) == 0  # Burns et al.: zero-initialised
    batch = collate(tokenize(model, _cls("hello world", "good movie"), max_length=16).items, eos)
    assert torch.equal(model(batch), torch.zeros(2))


def test_bert_mean_pooling_pairwise_head_default_init():
    model = load_model(tiny_bert()[0], kind="pairwise", seed=3)
    assert model.pooling == "mean"
    assert model.score.bias is None and tuple(model.score.weight.shape) == (1, 32)
    assert torch.count_nonzero(model.score.weight) == 32
    again = load_model(tiny_bert()[0], kind="pairwise", seed=3)
    other = load_model(tiny_bert()[0], kind="pairwise", seed=4)
    assert torch.equal(model.score.weight, again.score.weight)
    assert not torch.equal(model.score.weight, other.score.weight)


def test_invalid_options_name_the_argument():
    path = tiny_gpt2()[0]
    for kwargs, name in [
        ({"kind": "regression"}, "kind"),
        ({"kind": "pairwise", "pooling": "cls"}, "pooling"),
        ({"kind": "pairwise", "dtype": "fp16"}, "dtype"),
        ({"kind": "pairwise", "finetune": "partial"}, "finetune"),
        ({"kind": "pairwise", "max_length": 1}, "max_length"),
        ({"kind": "pairwise", "lora_rank": 0}, "lora_rank"),
        ({"kind": "pairwise", "truncation_side": "middle"}, "truncation_side"),
    ]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            load_model(path, **kwargs)
    with pytest.raises(ValueError, match="offline:nope"):
        load_model("offline:nope", kind="pairwise")
    with pytest.raises(TypeError, match="`source`"):
        load_model(3, kind="pairwise")  # type: ignore[arg-type]


def test_resolve_source_hub_id_and_local_dir(tmp_path):
    hub = resolve_source("openai-community/gpt2")
    assert not hub.is_local and hub.path == "openai-community/gpt2"
    local = resolve_source(tmp_path)
    assert local.is_local and local.path == str(tmp_path)
    with pytest.raises(FileNotFoundError, match="gguf_file"):
        resolve_source(tmp_path, gguf_file="missing.gguf")


# ------------------------------------------------------------------ pooling


def test_last_token_index_right_and_left_padding():
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    left = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]])
    assert last_token_index(right).tolist() == [2, 4, 0]
    assert last_token_index(left).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match="no real token"):
        last_token_index(torch.tensor([[0, 0]]))


def test_last_token_pooling_matches_manual_index_right_and_left(gpt2_cls):
    model = gpt2_cls
    texts = ("hello world", "the cat sat on the mat", "good")
    batch = collate(tokenize(model, _cls(*texts), max_length=32).items, model.pad_token_id)
    with torch.no_grad():
        hidden = model.backbone(**batch).last_hidden_state
        pooled = model.embed(batch)
    lengths = batch["attention_mask"].sum(1)
    manual = torch.stack([hidden[b, lengths[b] - 1] for b in range(len(texts))])
    torch.testing.assert_close(pooled, manual)
    # Left padding: same real tokens shifted right; pooled state must be the same features.
    ids, mask = batch["input_ids"], batch["attention_mask"]
    left_ids = torch.full_like(ids, model.pad_token_id)
    left_mask = torch.zeros_like(mask)
    for b in range(len(texts)):
        n = int(lengths[b])
        left_ids[b, -n:] = ids[b, :n]
        left_mask[b, -n:] = 1
    position_ids = (left_mask.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        hidden_left = model.backbone(input_ids=left_ids, attention_mask=left_mask,
                                     position_ids=position_ids).last_hidden_state
    idx = last_token_index(left_mask)
    assert idx.tolist() == [ids.shape[1] - 1] * len(texts)
    torch.testing.assert_close(hidden_left[torch.arange(len(texts)), idx], manual, atol=1e-5, rtol=1e-5)


def test_exclamation_mark_id_zero_does_not_move_pooled_position(gpt2_cls):
    model = gpt2_cls
    enc = tokenize(model, _cls("hello ! world !", "good"), max_length=32)
    assert enc[0].input_ids[0].count(0) == 2  # "!" is token id 0
    batch = collate(enc.items, model.pad_token_id)
    with torch.no_grad():
        hidden = model.backbone(**batch).last_hidden_state
        pooled = model.embed(batch)
    # The text ends in "!" (id 0): the pooled token is that final "!", position 3.
    assert batch["input_ids"][0, 3] == 0
    torch.testing.assert_close(pooled[0], hidden[0, 3])
    # The buggy rule "first id 0 marks the end" would pick position 0 (the token before the first "!").
    assert not torch.allclose(pooled[0], hidden[0, 0])


def test_mean_pool_equals_manual_masked_mean_and_handles_bf16():
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 5, 4, generator=gen)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]])
    manual = torch.stack([hidden[b][mask[b].bool()].mean(0) for b in range(3)])
    torch.testing.assert_close(mean_pool(hidden, mask), manual)
    out = mean_pool(hidden.to(torch.bfloat16), mask)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, manual, atol=2e-2, rtol=2e-2)
    with pytest.raises(ValueError, match="no real token"):
        mean_pool(hidden[:1], torch.zeros(1, 5))


def test_bert_embed_is_masked_mean_of_backbone():
    model = load_model(tiny_bert()[0], kind="classification").eval()
    batch = collate(tokenize(model, _cls("hello world", "the cat sat on the mat"), max_length=32).items,
                    model.pad_token_id)
    with torch.no_grad():
        hidden = model.backbone(**batch).last_hidden_state
        pooled = model.embed(batch)
    n = batch["attention_mask"].sum(1)
    manual = torch.stack([hidden[b, : n[b]].mean(0) for b in range(2)])
    torch.testing.assert_close(pooled, manual)


# ------------------------------------------------------------------ pairwise


def test_pairwise_logit_is_reward_difference_and_antisymmetric():
    model = load_model(tiny_gpt2()[0], kind="pairwise", seed=1).eval()
    a, b = ("hello world good movie", "bad"), ("the cat", "the dog sat on the mat !")
    pairs = _pairs(a, b)
    swapped = _pairs(a[::-1], b[::-1])
    batch = collate(tokenize(model, pairs, max_length=32).items, model.pad_token_id)
    batch_s = collate(tokenize(model, swapped, max_length=32).items, model.pad_token_id)
    with torch.no_grad():
        z = model(batch)
        z_s = model(batch_s)
        # Independent rewards r(x) = w . h_last(x), one text at a time, no padding at all.
        def reward(text: str) -> float:
            ids = torch.tensor([model.tokenizer(text)["input_ids"]])
            h = model.backbone(input_ids=ids).last_hidden_state[0, -1]
            return float(model.score.weight[0] @ h)
        expected = torch.tensor([reward(a[0]) - reward(a[1]), reward(b[0]) - reward(b[1])])
    assert z.dtype == torch.float32 and z.shape == (2,)
    torch.testing.assert_close(z, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z_s, -z, atol=1e-6, rtol=0)
    assert float(z.abs().min()) > 1e-4  # a falsifiable, non-degenerate case
    assert model.embed(batch).shape == (2, 2, 32)


def test_logits_float32_under_bf16_autocast():
    model = load_model(tiny_gpt2()[0], kind="classification", dtype="bf16").eval()
    torch.nn.init.normal_(model.score.weight)
    batch = collate(tokenize(model, _cls("hello world"), max_length=8).items, model.pad_token_id)
    with torch.no_grad(), model.autocast("cpu"):
        z = model(batch)
    assert z.dtype == torch.float32
    assert next(model.backbone.parameters()).dtype == torch.float32
    with torch.no_grad():
        z32 = model(batch)
    torch.testing.assert_close(z, z32, atol=0.1 * float(z32.abs().max()) + 1e-2, rtol=0.05)


# ------------------------------------------------------------------ fine-tuning modes


def test_head_only_freezes_backbone():
    model = load_model(tiny_bert()[0], kind="classification", finetune="head")
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert model.score.weight.requires_grad
    batch = collate(tokenize(model, _cls("good movie"), max_length=8).items, model.pad_token_id)
    model(batch).sum().backward()
    assert model.score.weight.grad is not None
    assert all(p.grad is None for p in model.backbone.parameters())


def test_lora_trains_only_adapters_and_merge_keeps_logits():
    full = load_model(tiny_gpt2()[0], kind="classification")
    model = load_model(tiny_gpt2()[0], kind="classification", finetune="lora", lora_rank=4)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "score.weight" in trainable
    backbone_trainable = {n for n in trainable if n.startswith("backbone.")}
    assert backbone_trainable and all("lora_" in n for n in backbone_trainable)
    n_full = sum(p.numel() for p in full.backbone.parameters())
    assert sum(p.numel() for p in model.backbone.parameters() if p.requires_grad) < 0.5 * n_full
    with torch.no_grad():
        for name, p in model.backbone.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
        model.score.weight.normal_()
    model.eval()
    batch = collate(tokenize(model, _cls("hello world", "bad film"), max_length=16).items, model.pad_token_id)
    with torch.no_grad():
        before = model(batch)
        full.score.weight.copy_(model.score.weight)
        unadapted = full.eval()(batch)
    assert not torch.allclose(before, unadapted, atol=1e-3)  # the adapters matter
    model.merge_lora()
    assert not any("lora_" in n for n, _ in model.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(model(batch), before, atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_gives_same_gradients():
    plain = load_model(tiny_gpt2()[0], kind="pairwise", seed=2)
    ckpt = load_model(tiny_gpt2()[0], kind="pairwise", seed=2, gradient_checkpointing=True)
    assert getattr(ckpt.backbone, "is_activation_checkpointing", None) or ckpt.backbone.is_gradient_checkpointing
    batch = collate(tokenize(plain, _pairs(("good movie", "bad")), max_length=8).items, plain.pad_token_id)
    grads = []
    for model in (plain, ckpt):
        model.train()
        torch.manual_seed(0)  # same dropout masks (checkpointing replays the RNG state)
        model(batch).sum().backward()
        grads.append(model.backbone.wte.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------ tokenisation and batching


def test_left_truncation_keeps_the_end_and_counts():
    model = load_model(tiny_gpt2()[0], kind="classification", max_length=4)
    text = "the cat sat on the mat"
    full = model.tokenizer(text)["input_ids"]
    enc = tokenize(model, _cls(text, "good"), max_length=4)
    assert enc[0].input_ids[0] == full[-4:]
    assert enc[1].input_ids[0] == model.tokenizer("good")["input_ids"]
    assert enc.n_truncated == 1
    right = tokenize(model, _cls(text), max_length=4, truncation_side="right")
    assert right[0].input_ids[0] == full[:4]
    assert model.tokenizer.truncation_side == "left"  # restored


def test_bert_truncation_keeps_special_tokens():
    _, tok = tiny_bert()
    enc = tokenize(tok, _pairs(("the cat sat on the mat", "good")), max_length=5)
    cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
    a, b = enc[0].input_ids
    assert a[0] == cls_id and a[-1] == sep_id and len(a) == 5
    assert a[1:-1] == tok("sat on the mat", add_special_tokens=False)["input_ids"][-3:]
    assert b == [cls_id, tok.convert_tokens_to_ids("good"), sep_id]
    assert enc.n_truncated == 1


def test_tokenize_validates_examples():
    _, tok = tiny_gpt2()
    with pytest.raises(ValueError, match="same number of texts"):
        tokenize(tok, [_Loose("a", ("x",), 0), _Loose("b", ("x", "y"), 1)], max_length=8)
    with pytest.raises(ValueError, match="1 or 2 texts"):
        tokenize(tok, [_Loose("a", (), 0)], max_length=8)
    with pytest.raises(TypeError, match="tuple of str"):
        tokenize(tok, [_Loose("a", ["x"], 0)], max_length=8)
    with pytest.raises(ValueError, match="`max_length`"):
        tokenize(tok, _cls("x"), max_length=0)
    with pytest.raises(TypeError, match="`model_or_tokenizer`"):
        tokenize(42, _cls("x"), max_length=8)
    assert len(tokenize(tok, [], max_length=8)) == 0


def test_collate_right_pads_both_texts_to_common_length():
    enc = tokenize(tiny_gpt2()[1], _pairs(("good", "the cat sat"), ("hello world", "bad")), max_length=16)
    batch = collate(enc.items, pad_token_id=7)
    assert set(batch) == {"input_ids", "attention_mask", "input_ids_b", "attention_mask_b"}
    assert batch["input_ids"].shape == batch["input_ids_b"].shape == (2, 3)
    assert batch["attention_mask"].tolist() == [[1, 0, 0], [1, 1, 0]]
    assert batch["attention_mask_b"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["input_ids"][0, 1:].tolist() == [7, 7]
    with pytest.raises(ValueError, match="non-empty"):
        collate([], 0)
    with pytest.raises(TypeError, match="`pad_token_id`"):
        collate(enc.items, None)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 500), min_size=0, max_size=300),
    batch_size=st.integers(1, 17),
    mult=st.integers(1, 6),
    seed=st.integers(0, 2**31),
)
def test_length_grouped_batches_partition(lengths, batch_size, mult, seed):
    batches = length_grouped_batches(lengths, batch_size, seed, mega_batch_mult=mult)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert batches == length_grouped_batches(lengths, batch_size, seed, mega_batch_mult=mult)


def test_length_grouped_batches_reduce_padding_and_reshuffle():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 1000, size=2000).tolist()
    grouped = length_grouped_batches(lengths, 16, seed=0)

    def waste(batches):
        return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)

    order = rng.permutation(len(lengths))
    random_batches = [order[i : i + 16].tolist() for i in range(0, len(order), 16)]
    assert waste(grouped) < 0.2 * waste(random_batches)
    epoch1 = length_grouped_batches(lengths, 16, seed=0, epoch=1)
    assert grouped != epoch1
    assert length_grouped_batches(lengths, 16, seed=1) != grouped
    with pytest.raises(ValueError, match="`batch_size`"):
        length_grouped_batches(lengths, 0, seed=0)


# ------------------------------------------------------------------ export


@pytest.mark.parametrize("kind", ["classification", "pairwise"])
@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_export_round_trip_logits(tmp_path, kind, finetune):
    from transformers import AutoModelForSequenceClassification

    model = load_model(tiny_gpt2()[0], kind=kind, finetune=finetune, seed=5)
    with torch.no_grad():
        model.score.weight.normal_()
        for name, p in model.backbone.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    model.eval()
    texts = ("hello ! world", "the cat sat on the mat very good", "bad")
    batch = collate(tokenize(model, _cls(*texts), max_length=32).items, model.pad_token_id)
    with torch.no_grad():
        features = model.pool(batch["input_ids"], batch["attention_mask"])
        ours = torch.nn.functional.linear(features, model.score.weight)  # [B, num_labels]
    out = export_sequence_classifier(model, tmp_path / "exported")
    assert finetune != "lora" or any("lora_" in n for n, _ in model.named_parameters())  # untouched
    hf = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert hf.config.num_labels == (2 if kind == "classification" else 1)
    assert hf.config.pad_token_id == model.pad_token_id
    assert hf.score.bias is None
    with torch.no_grad():
        theirs = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)
    if kind == "classification":
        with torch.no_grad():
            torch.testing.assert_close(theirs[:, 1] - theirs[:, 0], model(batch), atol=1e-5, rtol=1e-5)
    assert (out / "tokenizer.json").is_file() or (out / "tokenizer_config.json").is_file()


def test_export_refuses_mean_pooled_encoder(tmp_path):
    model = load_model(tiny_bert()[0], kind="classification")
    with pytest.raises(ValueError, match="cannot be exported exactly"):
        export_sequence_classifier(model, tmp_path / "bert")
    with pytest.warns(UserWarning, match="cannot be exported exactly"):
        out = export_sequence_classifier(model, tmp_path / "bert", allow_pooling_mismatch=True)
    from transformers import AutoModelForSequenceClassification

    hf = AutoModelForSequenceClassification.from_pretrained(out)
    torch.testing.assert_close(hf.classifier.weight, model.score.weight)
    assert torch.count_nonzero(hf.classifier.bias) == 0
