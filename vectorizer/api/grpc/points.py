"""`qdrant.Points`: point updates, reads, search, recommend, discover, query, facets, matrices.

Each RPC builds the JSON body the REST handler would receive (`convert`) and calls
the same parsing and engine functions (`api/rest/{points,reads,search,query}.py`
helpers, `collection.query.planner`); results convert back to protobuf.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import grpc as pb
from qdrant_client.conversions.conversion import GrpcToRest, RestToGrpc
from qdrant_client.grpc import points_service_pb2_grpc
from qdrant_client.http import models

from vectorizer.api.grpc import convert
from vectorizer.api.grpc.errors import Deadline, rpc, short_rpc
from vectorizer.api.inline_gate import InlineGate
from vectorizer.api.rest import points as rest_points
from vectorizer.api.rest import reads, search
from vectorizer.api.rest.collections import add_vector
from vectorizer.api.rest.envelope import parse_model
from vectorizer.collection import operations as ops
from vectorizer.collection.collection import Collection
from vectorizer.collection.query import planner
from vectorizer.storage.toc import TableOfContents


def _scored(hits: list[dict[str, Any]]) -> list[pb.ScoredPoint]:
    return [convert.scored_point(h) for h in hits]


class PointsServicer(points_service_pb2_grpc.PointsServicer):
    """Every RPC of `qdrant.Points`, on the same calls as the REST handlers."""

    def __init__(self, toc: TableOfContents) -> None:
        self.toc = toc
        self.inline_gate = InlineGate()  # which calls may run on the loop (`short_rpc`)

    def _col(self, request: Any) -> Collection:
        return self.toc.get(request.collection_name)

    def _update(self, request: Any, deadline: Deadline, op: ops.Operation,
                shard_key: Any = None) -> pb.PointsOperationResponse:
        col = self._col(request)
        deadline.check()
        result = rest_points.apply(col, op, shard_key, request.wait)
        return pb.PointsOperationResponse(result=convert.update_result(result))

    # ------------------------------------------------------------ updates

    @short_rpc
    def Upsert(self, request: pb.UpsertPoints, deadline: Deadline) -> pb.PointsOperationResponse:
        body = convert.compact({
            "update_filter": convert.filter_json(request, "update_filter"),
            "update_mode": convert.update_mode_json(request),
        })
        col = self._col(request)
        batch = convert.dense_points_batch(request.points, col.vector_specs())
        if batch is not None:
            op = rest_points.upsert_of(batch, body)
        else:  # the general parser (sparse/multi vectors, and REST's exact errors)
            body["points"] = [convert.point_json(p) for p in request.points]
            op = rest_points.upsert_op(body, col)
        return self._update(request, deadline, op, convert.shard_key_json(request))

    @short_rpc
    def Delete(self, request: pb.DeletePoints, deadline: Deadline) -> pb.PointsOperationResponse:
        body = convert.selector_of(request, "points")
        op = ops.DeletePoints(rest_points.selection(body))
        return self._update(request, deadline, op, convert.shard_key_json(request))

    @short_rpc
    def UpdateVectors(self, request: pb.UpdatePointVectors,
                      deadline: Deadline) -> pb.PointsOperationResponse:
        body = convert.compact({
            "points": [convert.point_vectors_json(p) for p in request.points],
            "update_filter": convert.filter_json(request, "update_filter"),
        })
        op = rest_points.update_vectors_op(body, self._col(request))
        return self._update(request, deadline, op, convert.shard_key_json(request))

    @short_rpc
    def DeleteVectors(self, request: pb.DeletePointVectors,
                      deadline: Deadline) -> pb.PointsOperationResponse:
        body = {"vector": list(request.vectors.names),
                **convert.selector_of(request, "points_selector")}
        op = rest_points.delete_vectors_op(body)
        return self._update(request, deadline, op, convert.shard_key_json(request))

    def _payload_body(self, request: pb.SetPayloadPoints) -> dict[str, Any]:
        return convert.compact({"payload": convert.payload_json(request.payload),
                                **convert.selector_of(request, "points_selector"),
                                "key": convert.optional(request, "key")})

    @short_rpc
    def SetPayload(self, request: pb.SetPayloadPoints,
                   deadline: Deadline) -> pb.PointsOperationResponse:
        op = rest_points.set_payload_op(self._payload_body(request))
        return self._update(request, deadline, op, convert.shard_key_json(request))

    @short_rpc
    def OverwritePayload(self, request: pb.SetPayloadPoints,
                         deadline: Deadline) -> pb.PointsOperationResponse:
        op = rest_points.overwrite_payload_op(self._payload_body(request))
        return self._update(request, deadline, op, convert.shard_key_json(request))

    @short_rpc
    def DeletePayload(self, request: pb.DeletePayloadPoints,
                      deadline: Deadline) -> pb.PointsOperationResponse:
        body = {"keys": list(request.keys), **convert.selector_of(request, "points_selector")}
        op = rest_points.delete_payload_op(body)
        return self._update(request, deadline, op, convert.shard_key_json(request))

    @short_rpc
    def ClearPayload(self, request: pb.ClearPayloadPoints,
                     deadline: Deadline) -> pb.PointsOperationResponse:
        op = ops.ClearPayload(rest_points.selection(convert.selector_of(request, "points")))
        return self._update(request, deadline, op, convert.shard_key_json(request))

    @short_rpc
    def UpdateBatch(self, request: pb.UpdateBatchPoints,
                    deadline: Deadline) -> pb.UpdateBatchResponse:
        body = {"operations": [convert.batch_operation_json(op) for op in request.operations]}
        col = self._col(request)
        parsed = rest_points.batch_ops(body, col)
        results = []
        for op, shard_key in parsed:
            deadline.check()
            results.append(convert.update_result(
                rest_points.apply(col, op, shard_key, request.wait)))
        return pb.UpdateBatchResponse(result=results)

    @rpc
    def CreateFieldIndex(self, request: pb.CreateFieldIndexCollection,
                         deadline: Deadline) -> pb.PointsOperationResponse:
        body = convert.compact({"field_name": request.field_name,
                                "field_schema": convert.field_schema_json(request)})
        return self._update(request, deadline, rest_points.create_index_op(body))

    @rpc
    def DeleteFieldIndex(self, request: pb.DeleteFieldIndexCollection,
                         deadline: Deadline) -> pb.PointsOperationResponse:
        return self._update(request, deadline, ops.DeleteFieldIndex(request.field_name))

    @rpc
    def CreateVectorName(self, request: pb.CreateVectorNameRequest,
                         deadline: Deadline) -> pb.PointsOperationResponse:
        if request.HasField("sparse_config"):
            sparse = request.sparse_config
            body: Any = {"sparse": convert.compact({
                "modifier": convert.optional(
                    sparse, "modifier", lambda m: convert.dump(GrpcToRest.convert_modifier(m))),
                "datatype": convert.optional(
                    sparse, "datatype", lambda d: convert.dump(GrpcToRest.convert_datatype(d))),
            })}
        elif request.HasField("dense_config"):
            dense = request.dense_config
            body = {"dense": convert.compact({
                "size": dense.size,
                "distance": convert.dump(GrpcToRest.convert_distance(dense.distance)),
                "multivector_config": convert.optional(
                    dense, "multivector_config",
                    lambda m: convert.dump(GrpcToRest.convert_multivector_config(m))),
                "datatype": convert.optional(
                    dense, "datatype", lambda d: convert.dump(GrpcToRest.convert_datatype(d))),
            })}
        else:
            raise convert.invalid("one of dense_config or sparse_config is required")
        col = self._col(request)
        deadline.check()
        add_vector(col, request.vector_name, body)
        return pb.PointsOperationResponse(result=pb.UpdateResult(
            operation_id=col.operation_id(), status=pb.UpdateStatus.Completed))

    @rpc
    def DeleteVectorName(self, request: pb.DeleteVectorNameRequest,
                         deadline: Deadline) -> pb.PointsOperationResponse:
        col = self._col(request)
        deadline.check()
        col.drop_vector(request.vector_name)
        return pb.PointsOperationResponse(result=pb.UpdateResult(
            operation_id=col.operation_id(), status=pb.UpdateStatus.Completed))

    # ------------------------------------------------------------ reads

    @short_rpc
    def Get(self, request: pb.GetPoints, deadline: Deadline) -> pb.GetResponse:
        body = convert.compact({
            "ids": [convert.point_id(p) for p in request.ids],
            "with_payload": convert.with_payload_json(request),
            "with_vector": convert.with_vectors_json(request),
            "shard_key": convert.shard_key_json(request),
        })
        records = reads.retrieve(self._col(request), body)
        return pb.GetResponse(result=[convert.retrieved_point(r) for r in records])

    @short_rpc
    def Scroll(self, request: pb.ScrollPoints, deadline: Deadline) -> pb.ScrollResponse:
        body = convert.compact({
            "filter": convert.filter_json(request),
            "offset": convert.optional(request, "offset", convert.point_id),
            "limit": convert.optional(request, "limit"),
            "with_payload": convert.with_payload_json(request),
            "with_vector": convert.with_vectors_json(request),
            "order_by": convert.optional(
                request, "order_by",
                lambda o: convert.dump(convert.guarded(GrpcToRest.convert_order_by, o))),
            "shard_key": convert.shard_key_json(request),
        })
        page = reads.scroll(self._col(request), body)
        response = pb.ScrollResponse(result=[convert.retrieved_point(r) for r in page["points"]])
        if page["next_page_offset"] is not None:
            response.next_page_offset.CopyFrom(convert.point_id_pb(page["next_page_offset"]))
        return response

    @short_rpc
    def Count(self, request: pb.CountPoints, deadline: Deadline) -> pb.CountResponse:
        body = convert.compact({"filter": convert.filter_json(request),
                                "exact": convert.optional(request, "exact"),
                                "shard_key": convert.shard_key_json(request)})
        result = reads.count(self._col(request), body)
        return pb.CountResponse(result=pb.CountResult(count=result["count"]))

    @short_rpc
    def Facet(self, request: pb.FacetCounts, deadline: Deadline) -> pb.FacetResponse:
        body = convert.compact({"key": request.key, "filter": convert.filter_json(request),
                                "limit": convert.optional(request, "limit"),
                                "exact": convert.optional(request, "exact"),
                                "shard_key": convert.shard_key_json(request)})
        result = convert.as_model(models.FacetResponse, reads.facet(self._col(request), body))
        return pb.FacetResponse(hits=[RestToGrpc.convert_facet_value_hit(h)
                                      for h in result.hits])

    # ------------------------------------------------------------ search

    @short_rpc
    def Search(self, request: pb.SearchPoints, deadline: Deadline) -> pb.SearchResponse:
        raw = convert.search_json(request)
        parsed = parse_model(search.SearchRequest, raw)
        hits = search.run_search(self.toc, self._col(request), raw, parsed)
        return pb.SearchResponse(result=_scored(hits))

    @short_rpc
    def SearchBatch(self, request: pb.SearchBatchPoints,
                    deadline: Deadline) -> pb.SearchBatchResponse:
        raw = {"searches": [convert.search_json(s) for s in request.search_points]}
        parsed = parse_model(search.SearchRequestBatch, raw)
        pages = search.run_search_batch(self.toc, self._col(request), raw, parsed)
        return pb.SearchBatchResponse(result=[pb.BatchResult(result=_scored(p)) for p in pages])

    @short_rpc
    def SearchGroups(self, request: pb.SearchPointGroups,
                     deadline: Deadline) -> pb.SearchGroupsResponse:
        raw = convert.search_groups_json(request)
        parsed = parse_model(search.SearchGroupsRequest, raw)
        result = search.run_groups(self.toc, self._col(request), raw, parsed)
        return pb.SearchGroupsResponse(result=convert.groups_result(result))

    @short_rpc
    def Recommend(self, request: pb.RecommendPoints,
                  deadline: Deadline) -> pb.RecommendResponse:
        raw = convert.recommend_json(request)
        parsed = parse_model(search.RecommendRequest, raw)
        hits = search.run_recommend(self.toc, self._col(request), raw, parsed)
        return pb.RecommendResponse(result=_scored(hits))

    @short_rpc
    def RecommendBatch(self, request: pb.RecommendBatchPoints,
                       deadline: Deadline) -> pb.RecommendBatchResponse:
        pages = self._each(request, [convert.recommend_json(r) for r in
                                     request.recommend_points],
                           search.RecommendRequestBatch, search.run_recommend, deadline)
        return pb.RecommendBatchResponse(result=[pb.BatchResult(result=_scored(p))
                                                 for p in pages])

    @short_rpc
    def RecommendGroups(self, request: pb.RecommendPointGroups,
                        deadline: Deadline) -> pb.RecommendGroupsResponse:
        raw = convert.recommend_groups_json(request)
        parsed = parse_model(search.RecommendGroupsRequest, raw)
        result = search.run_groups(self.toc, self._col(request), raw, parsed)
        return pb.RecommendGroupsResponse(result=convert.groups_result(result))

    @short_rpc
    def Discover(self, request: pb.DiscoverPoints, deadline: Deadline) -> pb.DiscoverResponse:
        raw = convert.discover_json(request)
        parsed = parse_model(search.DiscoverRequest, raw)
        hits = search.run_discover(self.toc, self._col(request), raw, parsed)
        return pb.DiscoverResponse(result=_scored(hits))

    @short_rpc
    def DiscoverBatch(self, request: pb.DiscoverBatchPoints,
                      deadline: Deadline) -> pb.DiscoverBatchResponse:
        pages = self._each(request, [convert.discover_json(r) for r in
                                     request.discover_points],
                           search.DiscoverRequestBatch, search.run_discover, deadline)
        return pb.DiscoverBatchResponse(result=[pb.BatchResult(result=_scored(p))
                                                for p in pages])

    def _each(self, request: Any, raws: list[dict[str, Any]], model: Any, runner: Any,
              deadline: Deadline) -> list[Any]:
        """`runner` on each of a batch's requests (as REST's `{"searches": …}` body), the
        deadline checked before each."""
        parsed = parse_model(model, {"searches": raws})
        col = self._col(request)
        pages = []
        for raw, one in zip(raws, parsed.searches, strict=True):
            deadline.check()
            pages.append(runner(self.toc, col, raw, one))
        return pages

    @short_rpc
    def SearchMatrixPairs(self, request: pb.SearchMatrixPoints,
                          deadline: Deadline) -> pb.SearchMatrixPairsResponse:
        result = search.matrix_pairs_result(self._col(request), self._matrix_body(request))
        return pb.SearchMatrixPairsResponse(result=RestToGrpc.convert_search_matrix_pairs(
            convert.as_model(models.SearchMatrixPairsResponse, result)))

    @short_rpc
    def SearchMatrixOffsets(self, request: pb.SearchMatrixPoints,
                            deadline: Deadline) -> pb.SearchMatrixOffsetsResponse:
        result = search.matrix_offsets_result(self._col(request), self._matrix_body(request))
        return pb.SearchMatrixOffsetsResponse(result=RestToGrpc.convert_search_matrix_offsets(
            convert.as_model(models.SearchMatrixOffsetsResponse, result)))

    @staticmethod
    def _matrix_body(request: pb.SearchMatrixPoints) -> dict[str, Any]:
        return convert.compact({"filter": convert.filter_json(request),
                                "sample": convert.optional(request, "sample"),
                                "limit": convert.optional(request, "limit"),
                                "using": convert.optional(request, "using"),
                                "shard_key": convert.shard_key_json(request)})

    # ------------------------------------------------------------ query API

    @short_rpc
    def Query(self, request: pb.QueryPoints, deadline: Deadline) -> pb.QueryResponse:
        parsed = convert.query_request(request)
        hits = planner.query_points(self._col(request), self.toc.get, parsed)
        return pb.QueryResponse(result=_scored(hits))

    @short_rpc
    def QueryBatch(self, request: pb.QueryBatchPoints,
                   deadline: Deadline) -> pb.QueryBatchResponse:
        parsed = [convert.query_request(q) for q in request.query_points]
        pages = planner.query_batch(self._col(request), self.toc.get, parsed)
        return pb.QueryBatchResponse(result=[pb.BatchResult(result=_scored(p)) for p in pages])

    @short_rpc
    def QueryGroups(self, request: pb.QueryPointGroups,
                    deadline: Deadline) -> pb.QueryGroupsResponse:
        parsed = convert.query_groups_request(request)
        result = planner.query_groups(self._col(request), self.toc.get, parsed)
        return pb.QueryGroupsResponse(result=convert.groups_result(result))
