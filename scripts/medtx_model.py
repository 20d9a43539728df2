"""The classifier network: built for training, saved, and loaded again for evaluation and the endpoint.

``TrainConfig.pooling`` chooses how the classification layer reads the encoder:

- ``cls``: transformers' own ``AutoModelForSequenceClassification`` (the first token's state, through
  the model's pooler where it has one, e.g. BERT's; DistilBERT's head reads the first token directly).
- ``mean``: the mean of the last hidden states over the real (unpadded) tokens, then dropout and one
  linear layer. Sentence encoders such as all-MiniLM-L6-v2 were trained to carry a text's meaning in
  that mean, not in the first token: a frozen linear probe on mtsamples scores 0.430 macro-F1 on the
  mean and 0.420 on BERT's pooled first token (512 tokens; 0.421 vs 0.389 at 128, bench/RESULTS.md).

A ``mean`` model folder holds the encoder as ``save_pretrained`` writes it (its ``config.json`` marks
the pooling and carries the label names) and the classification layer in ``POOLING_HEAD_FILE``.
This file ships in the model archive's ``code/`` with the endpoint handler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

from medtx_config import POOLINGS

#: The classification layer of a ``mean`` model, beside the encoder's weights.
POOLING_HEAD_FILE = "pooling_head.safetensors"
#: The ``config.json`` key that marks a ``mean`` model folder.
POOLING_KEY = "medtx_pooling"


class MeanPoolingClassifier(nn.Module):
    """Encoder, mean of the last hidden states over the attention mask, dropout, linear layer."""

    def __init__(self, encoder: Any, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config  # label names and sizes, where callers and the Trainer look
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)
        nn.init.normal_(self.classifier.weight, std=getattr(encoder.config, "initializer_range", 0.02))
        nn.init.zeros_(self.classifier.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,  # named so the Trainer keeps the column; the loss is its own
    ) -> SequenceClassifierOutput:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1)
        return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled)))

    def save_pretrained(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        setattr(self.encoder.config, POOLING_KEY, "mean")
        self.encoder.save_pretrained(str(folder))
        head = {k: v.detach().contiguous().cpu() for k, v in self.classifier.state_dict().items()}
        save_file(head, str(Path(folder) / POOLING_HEAD_FILE), metadata={"format": "pt"})


def build_classifier(
    model_path: str, pooling: str, labels: list[str], attn_implementation: str = "sdpa"
) -> nn.Module:
    """A pretrained encoder with a new classification layer for ``labels``."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got {pooling!r}")
    names = {"id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}}
    if pooling == "cls":
        return AutoModelForSequenceClassification.from_pretrained(
            model_path, num_labels=len(labels), attn_implementation=attn_implementation, **names
        )
    encoder = AutoModel.from_pretrained(model_path, attn_implementation=attn_implementation, **names)
    return MeanPoolingClassifier(encoder, len(labels))


def load_trained(folder: str | Path) -> nn.Module:
    """A model folder as training saved it, with either pooling."""
    folder = Path(folder)
    config = AutoConfig.from_pretrained(str(folder))
    if getattr(config, POOLING_KEY, "cls") != "mean":
        return AutoModelForSequenceClassification.from_pretrained(str(folder))
    from safetensors.torch import load_file

    model = MeanPoolingClassifier(AutoModel.from_pretrained(str(folder)), len(config.id2label))
    model.classifier.load_state_dict(load_file(str(folder / POOLING_HEAD_FILE)))
    return model
