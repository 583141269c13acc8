"""Tiny random-init models with tokenizers built in code (no downloads), for fast tests.

``tiny_gpt2()`` and ``tiny_bert()`` return ``(model_dir, tokenizer)``: a directory that
``AutoModel``/``AutoTokenizer.from_pretrained`` (and ``w2sg.models.load_model``) accept, and the
tokenizer saved in it. Both are built once per process. The GPT-2 vocabulary maps "!" to id 0, as
in real GPT-2, and has no pad token (``<|endoftext|>`` is eos), so loaders must set pad = eos.
Importing ``one_torch_thread`` into a test module runs that module on one torch thread.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

_WORDS = (
    "the a an is was good bad great terrible movie film book food service i you it this that "
    "and or not very really love hate like answer question q a : . , ? chosen rejected human "
    "assistant helpful harmless hello world cat dog sat on mat weak strong teacher student"
).split()


def _word_level(vocab_head: list[str], *, unk: str):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab: dict[str, int] = {}
    for token in [*vocab_head, *_WORDS]:
        vocab.setdefault(token, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
    )
    return tok, vocab


def _tmpdir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"w2sg-{name}-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread; on a busy 2-core machine extra threads only contend.

    Autouse in every test module that imports it: torch uses one thread for that module's tests.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.lru_cache(maxsize=None)
def tiny_gpt2():
    """A 2-layer GPT-2 (H=32) with a word-level tokenizer where "!" is id 0 and no pad token."""
    import torch
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    tok, vocab = _word_level(["!", "<|endoftext|>"], unk="<|endoftext|>")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                        bos_token="<|endoftext|>", unk_token="<|endoftext|>")
    config = GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=vocab["<|endoftext|>"], eos_token_id=vocab["<|endoftext|>"])
    torch.manual_seed(0)
    model = GPT2Model(config)
    path = _tmpdir("gpt2")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, tokenizer


@functools.lru_cache(maxsize=None)
def tiny_bert():
    """A 2-layer BERT (H=32) with a word-level tokenizer adding [CLS] ... [SEP]; [PAD] is id 0."""
    import torch
    from tokenizers import processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok, vocab = _word_level(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!"], unk="[UNK]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                        pad_token_id=0)
    torch.manual_seed(0)
    model = BertModel(config)
    path = _tmpdir("bert")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, tokenizer
