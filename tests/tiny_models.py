"""Tiny randomly initialised BERT checkpoints, for tests and smoke runs without a download.

They are deterministic (fixed seed) but untrained: good for checking mechanics (caching, resuming,
batching, reranking order), meaningless for retrieval quality.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Literal

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    *("the", "a", "of", "and", "to", "in", "is", "are", "that", "which", "why", "do", "how", "what"),
    *("cats", "dogs", "birds", "animals", "purr", "bark", "sing", "fly", "talk", "small", "furry"),
    *("loyal", "sound", "made", "by", "some", "other", "felines", "loudly"),
]


def tiny_vocab() -> list[str]:
    """Special tokens, a few words, then every letter and digit alone and as a ``##`` piece, so any
    lowercase ASCII word can be split into word pieces."""
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    return SPECIAL + list(dict.fromkeys(WORDS + chars)) + [f"##{c}" for c in string.ascii_lowercase + string.digits]


def build_tiny_bert(
    folder: Path,
    kind: Literal["encoder", "mlm", "cross-encoder"] = "encoder",
    *,
    hidden: int = 32,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """Save a tiny BERT (``BertModel``, ``BertForMaskedLM`` or a one-label
    ``BertForSequenceClassification``) and its WordPiece tokenizer in ``folder``."""
    import torch
    import transformers
    from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizer(
        vocab_file=str(folder / "vocab.txt"), do_lower_case=True, model_max_length=128
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
    )
    config.num_labels = 1
    torch.manual_seed(seed)
    model_cls = {"encoder": BertModel, "mlm": BertForMaskedLM, "cross-encoder": BertForSequenceClassification}[kind]
    model = model_cls(config)
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
