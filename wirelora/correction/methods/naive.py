"""Naive Remove / Fine-tune: no projection (the leaver's block stays in every copy), plain DGD under the
uniform schedule."""

from __future__ import annotations

from wirelora.correction.methods.base import Correction

__all__ = ["Naive"]


class Naive(Correction):
    name = "naive"
    project_on_leave = False
