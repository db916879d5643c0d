"""Collections over REST with the official client: create, info, update, delete, aliases."""

from __future__ import annotations

import httpx
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse


def test_create_get_delete(client: QdrantClient, collection_name: str) -> None:
    assert client.create_collection(
        collection_name,
        vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE),
    )
    assert client.collection_exists(collection_name)
    info = client.get_collection(collection_name)
    assert info.status == models.CollectionStatus.GREEN
    assert info.points_count == 0
    assert info.config.params.vectors.size == 4
    assert info.config.params.vectors.distance == models.Distance.COSINE
    assert info.config.hnsw_config.m == 16
    assert info.config.optimizer_config.flush_interval_sec == 5
    names = [c.name for c in client.get_collections().collections]
    assert collection_name in names
    assert client.delete_collection(collection_name)
    assert not client.collection_exists(collection_name)
    assert collection_name not in [c.name for c in client.get_collections().collections]


def test_create_existing_conflicts(client: QdrantClient, collection_name: str) -> None:
    cfg = models.VectorParams(size=2, distance=models.Distance.DOT)
    client.create_collection(collection_name, vectors_config=cfg)
    with pytest.raises(UnexpectedResponse) as exc:
        client.create_collection(collection_name, vectors_config=cfg)
    assert exc.value.status_code == 409
    assert "already exists" in exc.value.content.decode()


def test_missing_collection_404(client: QdrantClient, server) -> None:
    resp = httpx.get(f"{server.url}/collections/nope")
    assert resp.status_code == 404
    body = resp.json()
    assert body["status"]["error"] == "Not found: Collection `nope` doesn't exist!"
    assert body["result"] is None


def test_named_sparse_multi_config(client: QdrantClient, collection_name: str) -> None:
    client.create_collection(
        collection_name,
        vectors_config={
            "text": models.VectorParams(size=8, distance=models.Distance.DOT,
                                        datatype=models.Datatype.FLOAT16, on_disk=True),
            "colbert": models.VectorParams(
                size=4, distance=models.Distance.COSINE,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM)),
        },
        sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        shard_number=3,
        on_disk_payload=False,
        hnsw_config=models.HnswConfigDiff(m=32),
        metadata={"team": "search"},
    )
    info = client.get_collection(collection_name)
    params = info.config.params
    assert params.vectors["text"].datatype == models.Datatype.FLOAT16
    assert params.vectors["colbert"].multivector_config.comparator == "max_sim"
    assert params.sparse_vectors["bm25"].modifier == models.Modifier.IDF
    assert params.shard_number == 3
    assert params.on_disk_payload is False
    assert info.config.hnsw_config.m == 32
    assert info.config.metadata == {"team": "search"}


def test_update_collection(client: QdrantClient, collection_name: str) -> None:
    client.create_collection(collection_name,
                             vectors_config=models.VectorParams(size=3, distance="Euclid"))
    client.update_collection(
        collection_name,
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=5000),
        hnsw_config=models.HnswConfigDiff(ef_construct=64),
        metadata={"v": 2},
    )
    info = client.get_collection(collection_name)
    assert info.config.optimizer_config.indexing_threshold == 5000
    assert info.config.hnsw_config.ef_construct == 64
    assert info.config.metadata == {"v": 2}


def test_aliases_atomic(client: QdrantClient, collection_name: str) -> None:
    client.create_collection(collection_name,
                             vectors_config=models.VectorParams(size=2, distance="Dot"))
    alias = collection_name + "_alias"
    client.update_collection_aliases([
        models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name=collection_name, alias_name=alias)),
    ])
    assert client.get_collection(alias).config.params.vectors.size == 2
    client.upsert(alias, [models.PointStruct(id=1, vector=[1, 2])])
    assert client.count(collection_name).count == 1
    listed = {(a.alias_name, a.collection_name) for a in client.get_aliases().aliases}
    assert (alias, collection_name) in listed
    # A batch whose second action fails must change nothing.
    with pytest.raises(UnexpectedResponse):
        client.update_collection_aliases([
            models.RenameAliasOperation(rename_alias=models.RenameAlias(
                old_alias_name=alias, new_alias_name=alias + "2")),
            models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name="missing")),
        ])
    names = [a.alias_name for a in client.get_collection_aliases(collection_name).aliases]
    assert names == [alias]
    client.update_collection_aliases([
        models.RenameAliasOperation(rename_alias=models.RenameAlias(
            old_alias_name=alias, new_alias_name=alias + "2")),
    ])
    names = [a.alias_name for a in client.get_collection_aliases(collection_name).aliases]
    assert names == [alias + "2"]
    client.delete_collection(collection_name)
    assert all(a.collection_name != collection_name for a in client.get_aliases().aliases)


def test_qdrant_prefix_and_trailing_slash(server, collection_name: str) -> None:
    body = {"vectors": {"size": 2, "distance": "Dot"}}
    resp = httpx.put(f"{server.url}/qdrant/collections/{collection_name}/", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["result"] is True
    resp = httpx.get(f"{server.url}/collections/{collection_name}/")
    assert resp.json()["result"]["config"]["params"]["vectors"]["size"] == 2
    a = httpx.get(f"{server.url}/qdrant/collections").json()["result"]
    b = httpx.get(f"{server.url}/collections").json()["result"]
    assert a == b


def test_bad_body_is_400_and_changes_nothing(server, collection_name: str) -> None:
    resp = httpx.put(f"{server.url}/collections/{collection_name}", content=b"{not json")
    assert resp.status_code == 400
    assert resp.json()["status"]["error"].startswith("Format error in JSON body")
    resp = httpx.get(f"{server.url}/collections/{collection_name}/exists")
    assert resp.json()["result"]["exists"] is False
