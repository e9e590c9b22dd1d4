"""A shipped model card with room for more devices, for the benchmarks that run 32 or 128 of them.

A card's ``max_devices`` (8 for the shipped ones) bounds the slots of its slotted bases; the benchmarks shrink
the ranks as the device count grows (devices x rank <= in_features), so they need the same card with a larger
``max_devices``. ``card_for`` writes that copy into a folder (its weights' path made absolute) and returns it.
"""

from __future__ import annotations

from pathlib import Path


def card_for(model: str, devices: int, folder: Path) -> Path:
    """``folder/<model>-<devices>.yaml``: the shipped card ``model`` with max_devices = max(devices, 8)."""
    import yaml

    from wirelora.learning.models import MODELS_DIR

    card = yaml.safe_load((MODELS_DIR / f"{model}.yaml").read_text())
    card.update({"name": f"{model}-{devices}", "max_devices": max(devices, int(card.get("max_devices", 8)))})
    for key in ("checkpoint", "path"):
        if card.get(key) is not None:
            card[key] = str((MODELS_DIR / card[key]).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model}-{devices}.yaml"
    path.write_text(yaml.safe_dump(card))
    return path
