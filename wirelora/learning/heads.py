"""A frozen, data-free classification head for an encoder: the real-model path (MiniLM on corpus topics).

:class:`PrototypeClassifier` wraps a Hugging Face encoder (e.g. all-MiniLM-L6-v2): token ids [N, T] →
attention-masked mean pooling → cosine similarity with one frozen prototype per class → logits [N, C]. The
prototypes are the base encoder's embeddings of the class *names* (e.g. "sports"), not of any device's data,
so the head holds no device's knowledge and removing a device's adapter block removes all it taught.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["PrototypeClassifier"]


class PrototypeClassifier(nn.Module):
    """encoder + mean pooling + frozen cosine head. x : [N, T] int64 token ids (``pad_id`` = padding)."""

    def __init__(self, encoder: nn.Module, prototypes: torch.Tensor, *, pad_id: int = 0, scale: float = 20.0):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("prototypes", nn.functional.normalize(prototypes.detach(), dim=-1))  # [C, H]
        self.pad_id = int(pad_id)
        self.scale = float(scale)  # cosine in [-1, 1] → logits with a usable softmax range

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Mean-pooled sentence embeddings [N, H] (padding excluded)."""
        mask = (x != self.pad_id).to(torch.float32)  # [N, T]
        hidden = self.encoder(input_ids=x, attention_mask=mask.long()).last_hidden_state  # [N, T, H]
        return (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = nn.functional.normalize(self.embed(x), dim=-1)  # [N, H]
        return self.scale * z @ self.prototypes.T  # [N, C]

    @classmethod
    def from_label_names(
        cls, encoder: nn.Module, tokenizer, names: Sequence[str], **kw
    ) -> PrototypeClassifier:
        """Prototypes = the frozen encoder's embeddings of the label names."""
        enc = tokenizer(list(names), padding=True, return_tensors="pt")
        probe = cls(encoder, torch.zeros(len(names), 1), pad_id=tokenizer.pad_token_id, **kw)
        with torch.no_grad():
            protos = probe.embed(enc["input_ids"])  # [C, H]
        return cls(encoder, protos, pad_id=tokenizer.pad_token_id, **kw)
