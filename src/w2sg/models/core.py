"""Backbone + pooling + linear head: one logit ``z`` per example (MATH.md 8.1).

* Classification: a two-way head without bias, zero-initialised (Burns et al. 2023),
  :math:`z = l_1 - l_0`, :math:`l = W h`, :math:`W \\in \\mathbb R^{2\\times H}`.
* Pairwise reward: a scalar head without bias, default init, :math:`z = r(a) - r(b)`,
  :math:`r(x) = w^\\top h(x)`; both texts go through the same backbone and head.

The feature :math:`h` is the hidden state of the last real token for decoders (MATH.md 8.1:
"the hidden state of the last non-pad token"), found from the attention mask, never from a pad
id (GPT-2's id 0 is "!"); encoders use the attention-masked mean (sentence-transformers).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, Literal

import torch
from torch import Tensor, nn

from w2sg.models.sources import resolve_source

Kind = Literal["classification", "pairwise"]
Pooling = Literal["auto", "last", "mean"]
DType = Literal["fp32", "bf16"]
Finetune = Literal["full", "lora", "head"]

# Decoder-only families whose masked-LM mapping entry does not exist; "auto" pooling checks the
# transformers causal-LM mapping as well, so this set only needs the usual suspects.
_DECODER_TYPES = frozenset({
    "gpt2", "gpt_neo", "gpt_neox", "gptj", "llama", "mistral", "mixtral", "qwen2", "qwen3",
    "phi", "phi3", "gemma", "gemma2", "gemma3_text", "opt", "bloom", "falcon", "olmo", "olmo2",
    "smollm3", "stablelm", "starcoder2", "codegen", "pythia",
})
# LoRA targets per architecture; peft's own table is the fallback.
_LORA_TARGETS = {
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "bert": ["query", "key", "value"],
}


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"`{name}` of load_model must be one of {allowed}. Got {value!r} instead.")


def is_decoder_config(config: Any) -> bool:
    """Whether a transformers config describes a decoder-only (causal) language model.

    Encoder-decoder configs are not decoders. A config with ``is_decoder=True`` is; otherwise
    the ``model_type`` must be a known decoder or appear in the causal-LM mapping but not in the
    masked-LM mapping (BERT appears in both: it has an LM-head variant but is an encoder).
    """
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    if getattr(config, "is_encoder_decoder", False):
        return False
    if getattr(config, "is_decoder", False):
        return True
    model_type = getattr(config, "model_type", "")
    if model_type in _DECODER_TYPES:
        return True
    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def last_token_index(attention_mask: Tensor) -> Tensor:
    """Index of the last position whose attention mask is 1, per row.

    .. math:: t^*_b = \\max\\{t : m_{bt} = 1\\}

    Works for right and left padding (and any mask); token ids are never consulted.

    Args:
        attention_mask: ``[B, T]`` of 0/1 (any dtype).

    Returns:
        ``[B]`` int64.

    Raises:
        ValueError: a row with no 1 (nothing to pool).
    """
    mask = attention_mask != 0
    if mask.ndim != 2:
        raise ValueError(f"`attention_mask` must have shape [B, T]. Got {tuple(mask.shape)} instead.")
    if not bool(mask.any(dim=1).all()):
        raise ValueError("`attention_mask` has a row with no real token; every text needs one token.")
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    return torch.where(mask, positions, torch.full_like(positions, -1)).max(dim=1).values


def last_token_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Hidden state at the last real token: ``hidden[b, t*_b]`` (MATH.md 8.1), ``[B, T, H] -> [B, H]``."""
    index = last_token_index(attention_mask)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Attention-masked mean of the hidden states (sentence-transformers' mean pooling).

    .. math:: h_b = \\frac{\\sum_t m_{bt} H_{bt}}{\\sum_t m_{bt}}

    Accumulates in float32 (bf16 inputs give a float32 result). ``[B, T, H] -> [B, H]``.

    Raises:
        ValueError: a row with no real token (the mean would be 0/0).
    """
    mask = (attention_mask != 0).to(torch.float32)
    counts = mask.sum(dim=1, keepdim=True)  # (B, 1)
    if bool((counts == 0).any()):
        raise ValueError("`attention_mask` has a row with no real token; every text needs one token.")
    summed = torch.einsum("bth,bt->bh", hidden.to(torch.float32), mask)
    return summed / counts


class W2SModel(nn.Module):
    """A backbone, a pooling rule and a bias-free linear head giving one logit per example.

    Attributes:
        backbone: the transformers base model (``AutoModel``), or its peft wrapper under LoRA.
        score: ``nn.Linear(H, 2, bias=False)`` (classification) or ``nn.Linear(H, 1, bias=False)``
            (pairwise).
        tokenizer: the matching tokenizer, with a pad token set.
        kind: ``"classification"`` or ``"pairwise"``.
        pooling: ``"last"`` or ``"mean"`` (resolved, never ``"auto"``).
        max_length: tokens per text used by :func:`~w2sg.models.tokenize` callers.
        truncation_side: ``"left"`` (default) or ``"right"``.
        compute_dtype: ``"fp32"`` or ``"bf16"``; under bf16 callers wrap forward in
            :meth:`autocast`; the weights stay float32 and the logits are always float32.
        finetune: ``"full"``, ``"lora"`` or ``"head"``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        tokenizer: Any,
        *,
        kind: Kind,
        pooling: Literal["last", "mean"],
        max_length: int = 512,
        truncation_side: Literal["left", "right"] = "left",
        compute_dtype: DType = "fp32",
        finetune: Finetune = "full",
        seed: int = 0,
    ) -> None:
        super().__init__()
        _check_choice("kind", kind, ("classification", "pairwise"))
        _check_choice("pooling", pooling, ("last", "mean"))
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.kind = kind
        self.pooling = pooling
        self.max_length = max_length
        self.truncation_side = truncation_side
        self.compute_dtype = compute_dtype
        self.finetune = finetune
        hidden = int(backbone.config.hidden_size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.score = nn.Linear(hidden, 2 if kind == "classification" else 1, bias=False)
        if kind == "classification":
            # Burns et al. (2023): the two-way head starts at zero, so z = 0 and p = 1/2 at step 0.
            nn.init.zeros_(self.score.weight)

    @property
    def config(self) -> Any:
        """The backbone's transformers config."""
        return self.backbone.config

    @property
    def pad_token_id(self) -> int:
        """Id used to pad batches (the tokenizer's pad token)."""
        return int(self.tokenizer.pad_token_id)

    def autocast(self, device_type: str = "cpu") -> contextlib.AbstractContextManager:
        """``torch.autocast`` in bf16 when ``compute_dtype == "bf16"``, else a no-op context."""
        if self.compute_dtype == "bf16":
            return torch.autocast(device_type=device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def pool(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Backbone + pooling for one text per row: ``[B, T] -> [B, H]`` (the feature a head reads)."""
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        if self.pooling == "last":
            return last_token_pool(hidden, attention_mask)
        return mean_pool(hidden, attention_mask)

    def embed(self, batch: dict[str, Tensor]) -> Tensor:
        """Pooled features: ``[B, H]``, or ``[B, 2, H]`` for pairs (text a, text b).

        Both texts of a pair go through the backbone in one call (stacked along the batch; the
        collate pads them to one length).
        """
        ids, mask = _require(batch, "input_ids"), _require(batch, "attention_mask")
        if ids.shape != mask.shape or ids.ndim != 2:
            raise ValueError(
                "`input_ids` and `attention_mask` must both have shape [B, T]. Got "
                f"{tuple(ids.shape)} and {tuple(mask.shape)} instead."
            )
        if self.kind == "classification":
            return self.pool(ids, mask)
        ids_b, mask_b = _require(batch, "input_ids_b"), _require(batch, "attention_mask_b")
        if ids_b.shape != mask_b.shape or ids_b.shape[0] != ids.shape[0]:
            raise ValueError(
                "`input_ids_b`/`attention_mask_b` must have shape [B, T] with the B of `input_ids`. "
                f"Got {tuple(ids_b.shape)} and {tuple(mask_b.shape)} for B={ids.shape[0]} instead."
            )
        length = max(ids.shape[1], ids_b.shape[1])
        pad = self.pad_token_id
        both_ids = torch.cat([_right_pad(ids, length, pad), _right_pad(ids_b, length, pad)])  # (2B, T)
        both_mask = torch.cat([_right_pad(mask, length, 0), _right_pad(mask_b, length, 0)])
        pooled = self.pool(both_ids, both_mask)  # (2B, H)
        return torch.stack(pooled.chunk(2, dim=0), dim=1)  # (B, 2, H)

    def head(self, features: Tensor) -> Tensor:
        """Logits from pooled features, in float32 whatever the autocast state.

        .. math:: z = l_1 - l_0 \\quad\\text{or}\\quad z = w^\\top h_a - w^\\top h_b

        Args:
            features: ``[B, H]`` (classification) or ``[B, 2, H]`` (pairwise).

        Returns:
            ``[B]`` float32.
        """
        device_type = features.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            h = features.to(self.score.weight.dtype)
            if self.kind == "classification":
                logits = self.score(h)  # (B, 2)
                z = logits[:, 1] - logits[:, 0]
            else:
                rewards = self.score(h).squeeze(-1)  # (B, 2)
                z = rewards[:, 0] - rewards[:, 1]
        return z.float()

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """One logit per example, float32 ``[B]`` (MATH.md 8.1)."""
        return self.head(self.embed(batch))

    def merge_lora(self) -> None:
        """Fold LoRA adapters into the backbone weights (peft ``merge_and_unload``), in place."""
        if hasattr(self.backbone, "merge_and_unload"):
            self.backbone = self.backbone.merge_and_unload()
            self.finetune = "full"


def _require(batch: dict[str, Tensor], key: str) -> Tensor:
    if not isinstance(batch, dict) or key not in batch:
        keys = list(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"`batch` of W2SModel must contain {key!r}. Got {keys} instead.")
    return batch[key]


def _right_pad(x: Tensor, length: int, value: int) -> Tensor:
    if x.shape[1] == length:
        return x
    return torch.nn.functional.pad(x, (0, length - x.shape[1]), value=value)


def _lora_targets(model_type: str) -> list[str]:
    if model_type in _LORA_TARGETS:
        return list(_LORA_TARGETS[model_type])
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft_targets

    if model_type in peft_targets:
        return list(peft_targets[model_type])
    raise ValueError(
        f"`lora_target_modules` of load_model must be given for model type {model_type!r}: no default "
        "is known. Got None instead."
    )


def load_model(
    source: str | os.PathLike[str],
    *,
    kind: Kind,
    pooling: Pooling = "auto",
    dtype: DType = "fp32",
    finetune: Finetune = "full",
    lora_rank: int = 8,
    lora_alpha: float = 16,
    lora_dropout: float = 0.0,
    lora_target_modules: list[str] | None = None,
    gradient_checkpointing: bool = False,
    max_length: int = 512,
    truncation_side: Literal["left", "right"] = "left",
    seed: int = 0,
    gguf_file: str | None = None,
) -> W2SModel:
    """Load a backbone and tokenizer and put a bias-free binary head on top (MATH.md 8.1).

    Args:
        source: hub id, local directory, or ``offline:minilm-l6``/``offline:minilm-l3``/
            ``offline:smollm2-135m``.
        kind: ``"classification"`` (two-way head, zero init, ``z = l1 - l0``) or ``"pairwise"``
            (scalar reward head, default init, ``z = r(a) - r(b)``).
        pooling: ``"last"`` (last real token, from the attention mask), ``"mean"`` (masked mean),
            or ``"auto"``: last for decoders, mean for encoders.
        dtype: ``"bf16"`` records that callers should run under bf16 autocast (:meth:`W2SModel.autocast`);
            the weights are loaded in float32 either way.
        finetune: ``"full"`` trains everything, ``"lora"`` wraps the backbone with peft LoRA (only
            adapters and head train), ``"head"`` freezes the backbone.
        lora_rank, lora_alpha, lora_dropout, lora_target_modules: LoRA settings (targets default per
            architecture).
        gradient_checkpointing: enable activation checkpointing in the backbone.
        max_length: tokens per text (MATH.md 8.3: 512 for reward tasks, 1024 for classification).
        truncation_side: ``"left"`` keeps the end of a long text (MATH.md 8.3).
        seed: seeds the head's and the adapters' initialisation (global RNG state is restored).
        gguf_file: a GGUF checkpoint inside ``source``.

    Returns:
        A :class:`W2SModel`. Tokenizers without a pad token get ``pad_token = eos_token`` and the
        backbone config records ``pad_token_id``.

    Raises:
        ValueError, TypeError: invalid options; FileNotFoundError: a missing offline package.
    """
    _check_choice("kind", kind, ("classification", "pairwise"))
    _check_choice("pooling", pooling, ("auto", "last", "mean"))
    _check_choice("dtype", dtype, ("fp32", "bf16"))
    _check_choice("finetune", finetune, ("full", "lora", "head"))
    _check_choice("truncation_side", truncation_side, ("left", "right"))
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"`max_length` of load_model must be an int >= 2. Got {max_length!r} instead.")
    if isinstance(lora_rank, bool) or not isinstance(lora_rank, int) or lora_rank < 1:
        raise ValueError(f"`lora_rank` of load_model must be an int >= 1. Got {lora_rank!r} instead.")
    if not isinstance(lora_alpha, (int, float)) or isinstance(lora_alpha, bool) or lora_alpha <= 0:
        raise ValueError(f"`lora_alpha` of load_model must be a number > 0. Got {lora_alpha!r} instead.")
    if not isinstance(lora_dropout, (int, float)) or not 0.0 <= float(lora_dropout) < 1.0:
        raise ValueError(f"`lora_dropout` of load_model must be a float in [0, 1). Got {lora_dropout!r} instead.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` of load_model must be an int. Got {seed!r} instead.")

    from transformers import AutoModel, AutoTokenizer

    resolved = resolve_source(source, gguf_file=gguf_file)
    extra: dict[str, Any] = {"dtype": torch.float32}
    if resolved.gguf_file is not None:
        extra["gguf_file"] = resolved.gguf_file
    tokenizer = AutoTokenizer.from_pretrained(resolved.tokenizer_path, **({"gguf_file": resolved.gguf_file}
                                                                          if resolved.gguf_file else {}))
    backbone = AutoModel.from_pretrained(resolved.path, **extra)
    prepare_tokenizer(tokenizer, backbone.config)
    tokenizer.truncation_side = truncation_side

    resolved_pooling: Literal["last", "mean"]
    if pooling == "auto":
        resolved_pooling = "last" if is_decoder_config(backbone.config) else "mean"
    else:
        resolved_pooling = pooling

    if gradient_checkpointing:
        if not getattr(backbone, "supports_gradient_checkpointing", False):
            raise ValueError(
                f"`gradient_checkpointing` of load_model: {type(backbone).__name__} does not support it. "
                "Got True instead."
            )
        # transformers 5 renamed the method; fall back for older releases.
        if hasattr(backbone, "activation_checkpointing_enable"):
            backbone.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    if finetune == "lora":
        backbone = apply_lora(backbone, rank=lora_rank, alpha=lora_alpha, dropout=lora_dropout,
                              target_modules=lora_target_modules, seed=seed)
    elif finetune == "head":
        backbone.requires_grad_(False)
    elif lora_target_modules is not None:
        warnings.warn("`lora_target_modules` is ignored unless finetune='lora'.", stacklevel=2)

    return W2SModel(backbone, tokenizer, kind=kind, pooling=resolved_pooling, max_length=max_length,
                    truncation_side=truncation_side, compute_dtype=dtype, finetune=finetune, seed=seed)


def prepare_tokenizer(tokenizer: Any, config: Any) -> None:
    """Give a tokenizer a pad token (``eos`` if it has none) and record ``pad_token_id`` in ``config``.

    Raises:
        ValueError: the tokenizer has neither a pad nor an eos token.
    """
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(
                "The tokenizer has no pad token and no eos token to use as one; set "
                "`tokenizer.pad_token` before loading."
            )
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    config.pad_token_id = int(tokenizer.pad_token_id)


def apply_lora(backbone: nn.Module, *, rank: int, alpha: float, dropout: float,
               target_modules: list[str] | None, seed: int) -> nn.Module:
    """Wrap a backbone with peft LoRA adapters; only adapter weights stay trainable.

    .. math:: W' = W + \\frac{\\alpha}{r} B A, \\quad B = 0 \\text{ at init}
    """
    from peft import LoraConfig, get_peft_model

    targets = list(target_modules) if target_modules is not None else _lora_targets(backbone.config.model_type)
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return get_peft_model(backbone, config)
