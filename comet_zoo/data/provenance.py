"""How a published card names the data a model was trained on: honestly.

A model trained on your images is never presented as trained on a benchmark: its card
says `hf:ORG/NAME` (the Hub id it was read from), or "a local image folder" with its
file count and a SHA-256 over the files' names and bytes, so that a reader can tell
which collection it was; a mixture lists each source with its weight.
"""

from __future__ import annotations

from . import build_dataset, reads_from_disk


def describe(dataset: str, options: dict, size: int) -> dict | None:
    """{"text": one line, "hub_ids": [Hub data-set ids], "sources": [...]} for a collection
    of images or a mixture holding one; None for a renderer (its card says so already)."""
    data = build_dataset(dataset, **{**options, "size": size})
    if reads_from_disk(data):
        source = data.card_source()
        return {"text": _collection_text(source), "hub_ids": [source["hf_id"]] if "hf_id" in source else [],
                "sources": [source]}
    if dataset == "mixture" and hasattr(data, "datasets"):
        parts, hub_ids, sources = [], [], []
        for label, part, weight in zip(data.labels, data.datasets, data.weights):
            if reads_from_disk(part):
                source = part.card_source()
                text = _collection_text(source)
                hub_ids += [source["hf_id"]] if "hf_id" in source else []
            else:
                source, text = {"kind": "renderer", "dataset": label}, f"{label} (comet-zoo procedural renders)"
            sources.append({**source, "weight": weight})
            parts.append(f"{text}, weight {weight:g}")
        return {"text": "a mixture of " + "; ".join(parts), "hub_ids": hub_ids, "sources": sources}
    return None


def _collection_text(source: dict) -> str:
    if "hf_id" in source:
        return f"the Hugging Face dataset {source['hf_id']} ({source['images']} images)"
    where = "a local image folder" if source["kind"] == "FolderSource" else "a local Hugging Face dataset"
    used = f", {source['images']} used" if source["images"] != source["files"] else ""
    return f"{where} of {source['files']} image files{used} (sha256 {source['sha256']})"
