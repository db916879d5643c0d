"""Writing a segment to a directory and reading it back.

`save_segment` writes into a fresh directory; the shard makes the switch atomic
by renaming that directory into place and then pointing its state file at it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from vectorizer.common.durable import fsync_tree
from vectorizer.index.hnsw import HnswIndex
from vectorizer.index.payload.field_indexes import PayloadFieldIndexes
from vectorizer.index.payload_graphs import PayloadGraphs
from vectorizer.segment.segment import Segment
from vectorizer.segment.vector_storage import (
    DenseVectorStorage,
    SparseVectorStorage,
    storage_from_meta,
    storage_meta,
)

FORMAT_VERSION = 1


def save_segment(segment: Segment, directory: Path) -> None:
    """Write every part of `segment` into `directory` (created here) and fsync it."""
    directory.mkdir(parents=True)
    n = segment.num_offsets
    names = list(segment.vectors)
    meta = {
        "format": FORMAT_VERSION,
        "ids": segment.ids,
        "vectors": [{"name": name, **storage_meta(segment.vectors[name])} for name in names],
        "sealed": segment.sealed,
        "uid": segment.uid,
        "ann": {name: idx.distance for name, idx in segment.ann.items()},
        "payload_graphs": list(segment.payload_graphs),
    }
    (directory / "meta.json").write_bytes(orjson.dumps(meta))
    np.save(directory / "alive.npy", segment.alive[:n], allow_pickle=False)
    np.save(directory / "versions.npy", segment.versions[:n], allow_pickle=False)
    (directory / "payloads.json").write_bytes(orjson.dumps(segment.payloads))
    for i, name in enumerate(names):
        vec_dir = directory / "vectors" / str(i)
        vec_dir.mkdir(parents=True)
        segment.vectors[name].save(vec_dir, n)
        if name in segment.ann:
            segment.ann[name].save(vec_dir)
        if name in segment.payload_graphs:
            segment.payload_graphs[name].save(vec_dir)
    index_dir = directory / "indexes"
    index_dir.mkdir()
    segment.indexes.save(index_dir)
    fsync_tree(directory)


def map_on_disk_vectors(segment: Segment, directory: Path) -> None:
    """Point a sealed segment's `on_disk` vectors at their saved files (memory-mapped)."""
    if not segment.sealed:
        return
    for i, name in enumerate(segment.vectors):
        storage = segment.vectors[name]
        if isinstance(storage, DenseVectorStorage | SparseVectorStorage) and storage.on_disk:
            storage.load(directory / "vectors" / str(i))


def load_segment(directory: Path) -> Segment:
    """Read a segment written by `save_segment`."""
    meta = orjson.loads((directory / "meta.json").read_bytes())
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"segment {directory} has unknown format {meta.get('format')}")
    segment = Segment({})
    segment.ids = list(meta["ids"])
    segment.alive = np.load(directory / "alive.npy", allow_pickle=False).copy()
    segment.versions = np.load(directory / "versions.npy", allow_pickle=False).copy()
    segment.id_to_offset = {
        pid: off for off, pid in enumerate(segment.ids) if segment.alive[off]
    }
    segment.payloads = orjson.loads((directory / "payloads.json").read_bytes())
    for i, vmeta in enumerate(meta["vectors"]):
        storage = storage_from_meta(vmeta)
        storage.load(directory / "vectors" / str(i))
        if isinstance(storage, DenseVectorStorage) and not meta.get("sealed"):
            storage.load_into_memory()  # the appendable segment takes writes
        segment.vectors[vmeta["name"]] = storage
        distance = meta.get("ann", {}).get(vmeta["name"])
        if distance is not None:
            ann = HnswIndex.load(directory / "vectors" / str(i), distance)
            if ann is not None:
                segment.ann[vmeta["name"]] = ann
        if vmeta["name"] in meta.get("payload_graphs", []):
            graphs = PayloadGraphs.load(directory / "vectors" / str(i))
            if graphs is not None:
                segment.payload_graphs[vmeta["name"]] = graphs
    segment.sealed = bool(meta.get("sealed", False))
    segment.uid = meta.get("uid") or segment.uid
    segment.indexes = PayloadFieldIndexes.load(directory / "indexes")
    segment.dirty = False
    return segment
