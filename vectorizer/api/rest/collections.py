"""REST handlers for collections, aliases, shard keys, named vectors and the cluster view."""

from __future__ import annotations

from typing import Any

from qdrant_client.http import models
from starlette.requests import Request
from starlette.routing import Route

from vectorizer.api.rest.envelope import endpoint, json_body, parse_model, query_int, run
from vectorizer.api.rest.points import collection_of
from vectorizer.collection.collection import Collection
from vectorizer.common.errors import FormatError


def _toc(request: Request) -> Any:
    return request.app.state.toc


def _name(request: Request) -> str:
    return request.path_params["collection_name"]


@endpoint
async def list_collections(request: Request) -> Any:
    return {"collections": [{"name": n} for n in _toc(request).list_names()]}


@endpoint
async def get_collection(request: Request) -> Any:
    col = collection_of(request)
    return await run(col.info)


@endpoint
async def create_collection(request: Request) -> Any:
    body = await json_body(request, required=False) or {}
    create = parse_model(models.CreateCollection, body)
    return await run(_toc(request).create_collection, _name(request), create)


@endpoint
async def update_collection(request: Request) -> Any:
    body = await json_body(request, required=False) or {}
    update = parse_model(models.UpdateCollection, body)
    return await run(_toc(request).update_collection, _name(request), update)


@endpoint
async def delete_collection(request: Request) -> Any:
    return await run(_toc(request).delete_collection, _name(request))


@endpoint
async def collection_exists(request: Request) -> Any:
    return {"exists": _toc(request).exists(_name(request))}


@endpoint
async def update_aliases(request: Request) -> Any:
    body = await json_body(request)
    change = parse_model(models.ChangeAliasesOperation, body)
    return await run(_toc(request).update_aliases, change.actions)


@endpoint
async def list_aliases(request: Request) -> Any:
    return {"aliases": _toc(request).list_aliases()}


@endpoint
async def collection_aliases(request: Request) -> Any:
    return {"aliases": _toc(request).list_aliases(_name(request))}


@endpoint
async def collection_cluster(request: Request) -> Any:
    col = collection_of(request)
    return await run(col.cluster_info, _toc(request).peer_id)


@endpoint
async def create_shard_key(request: Request) -> Any:
    body = await json_body(request)
    model = parse_model(models.CreateShardingKey, body)
    col = collection_of(request)
    return await run(col.create_shard_key, model.shard_key, model.shards_number)


@endpoint
async def delete_shard_key(request: Request) -> Any:
    body = await json_body(request)
    model = parse_model(models.DropShardingKey, body)
    col = collection_of(request)
    return await run(col.delete_shard_key, model.shard_key)


@endpoint
async def list_shard_keys(request: Request) -> Any:
    col = collection_of(request)
    return {"shard_keys": [{"key": k} for k in col.list_shard_keys()]}


def _vector_name_config(body: Any) -> tuple[dict[str, Any], bool]:
    """A `VectorNameConfig` body as the stored params of the new vector, and whether it is
    sparse (`{"dense": {...}}` or `{"sparse": {...}}`, 1.18+)."""
    if not isinstance(body, dict):
        raise FormatError("Format error in JSON body: expected a JSON object")
    if "sparse" in body:
        sparse = parse_model(models.SparseVectorNameConfig, body).sparse
        params: dict[str, Any] = {}
        if sparse.modifier is not None:
            params["modifier"] = sparse.modifier.value
        if sparse.datatype is not None:
            params["index"] = {"datatype": sparse.datatype.value}
        return params, True
    dense = parse_model(models.DenseVectorNameConfig, body).dense
    if not 1 <= dense.size <= 65536:
        raise FormatError(f"Validation error in JSON body: [dense.size: value {dense.size} "
                          "invalid, must be from 1 to 65536]")
    params = {"size": dense.size, "distance": dense.distance.value}
    if dense.multivector_config is not None:
        params["multivector_config"] = dense.multivector_config.model_dump(mode="json")
    if dense.datatype is not None:
        params["datatype"] = dense.datatype.value
    return params, False


def add_vector(col: Collection, name: str, body: Any) -> None:
    """`PUT /vectors/{name}`: add the dense or sparse vector a `VectorNameConfig` describes."""
    params, sparse = _vector_name_config(body)
    col.add_vector(name, params, sparse)


@endpoint
async def create_vector(request: Request) -> Any:
    col = collection_of(request)
    await run(add_vector, col, request.path_params["vector_name"], await json_body(request))
    return {"operation_id": col.operation_id(), "status": "completed"}


@endpoint
async def delete_vector(request: Request) -> Any:
    col = collection_of(request)
    await run(col.drop_vector, request.path_params["vector_name"])
    return {"operation_id": col.operation_id(), "status": "completed"}


P = "/collections/{collection_name}"
@endpoint
async def collection_optimizations(request: Request) -> Any:
    col = collection_of(request)
    include = {part.strip() for part in request.query_params.get("with", "").split(",")
               if part.strip()}
    unknown = include - {"queued", "completed", "idle_segments"}
    if unknown:
        raise FormatError(f"Format error in query parameters: unknown `with` value "
                          f"`{sorted(unknown)[0]}`, expected queued, completed, idle_segments")
    limit = query_int(request, "completed_limit")
    return await run(col.optimizations, include, 16 if limit is None else limit)


ROUTES = [
    Route("/collections", list_collections, methods=["GET"]),
    Route("/collections/aliases", update_aliases, methods=["POST"]),
    Route("/aliases", list_aliases, methods=["GET"]),
    Route(P, get_collection, methods=["GET"]),
    Route(P, create_collection, methods=["PUT"]),
    Route(P, update_collection, methods=["PATCH"]),
    Route(P, delete_collection, methods=["DELETE"]),
    Route(P + "/exists", collection_exists, methods=["GET"]),
    Route(P + "/aliases", collection_aliases, methods=["GET"]),
    Route(P + "/cluster", collection_cluster, methods=["GET"]),
    Route(P + "/optimizations", collection_optimizations, methods=["GET"]),
    Route(P + "/shards", create_shard_key, methods=["PUT"]),
    Route(P + "/shards", list_shard_keys, methods=["GET"]),
    Route(P + "/shards/delete", delete_shard_key, methods=["POST"]),
    Route(P + "/vectors/{vector_name}", create_vector, methods=["PUT"]),
    Route(P + "/vectors/{vector_name}", delete_vector, methods=["DELETE"]),
]
