// Drives a Vectorizer server with Qdrant's official Java client (gRPC) and prints what it
// got back as one JSON object; tests/test_official_clients.py compares it with the Python
// client's answers on the same data.
import static io.qdrant.client.ConditionFactory.matchKeyword;
import static io.qdrant.client.PointIdFactory.id;
import static io.qdrant.client.QueryFactory.nearest;
import static io.qdrant.client.ValueFactory.list;
import static io.qdrant.client.ValueFactory.value;
import static io.qdrant.client.VectorsFactory.vectors;
import static io.qdrant.client.WithPayloadSelectorFactory.enable;

import io.qdrant.client.QdrantClient;
import io.qdrant.client.QdrantGrpcClient;
import io.qdrant.client.grpc.Collections.Distance;
import io.qdrant.client.grpc.Collections.PayloadSchemaType;
import io.qdrant.client.grpc.Collections.VectorParams;
import io.qdrant.client.grpc.Common.Filter;
import io.qdrant.client.grpc.Common.PointId;
import io.qdrant.client.grpc.Points.FacetCounts;
import io.qdrant.client.grpc.Points.PointStruct;
import io.qdrant.client.grpc.Points.QueryPointGroups;
import io.qdrant.client.grpc.Points.QueryPoints;
import io.qdrant.client.grpc.Points.RetrievedPoint;
import io.qdrant.client.grpc.Points.ScoredPoint;
import io.qdrant.client.grpc.Points.ScrollPoints;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;

public class Check {
  static final String UUID_ID = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26";

  static String str(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }

  static String idJson(PointId id) {
    return id.hasUuid() ? str(id.getUuid()) : Long.toString(id.getNum());
  }

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    String name = args[1];
    QdrantClient client =
        new QdrantClient(QdrantGrpcClient.newBuilder("127.0.0.1", port, false, false).build());
    List<String> out = new ArrayList<>();
    out.add("\"version\": " + str(client.healthCheckAsync().get().getVersion()));
    client.createCollectionAsync(name,
        VectorParams.newBuilder().setDistance(Distance.Cosine).setSize(4).build()).get();
    out.add("\"exists\": " + client.collectionExistsAsync(name).get());
    client.upsertAsync(name, List.of(
        PointStruct.newBuilder().setId(id(1)).setVectors(vectors(0.05f, 0.61f, 0.76f, 0.74f))
            .putAllPayload(Map.of("city", value("Berlin"), "n", value(3))).build(),
        PointStruct.newBuilder().setId(id(2)).setVectors(vectors(0.19f, 0.81f, 0.75f, 0.11f))
            .putAllPayload(Map.of("city", value("London"), "n", value(1.5))).build(),
        PointStruct.newBuilder().setId(id(UUID.fromString(UUID_ID)))
            .setVectors(vectors(0.36f, 0.55f, 0.47f, 0.94f))
            .putAllPayload(Map.of("city", value("Moscow"),
                "tags", list(List.of(value("a"), value("b"))))).build())).get();
    client.createPayloadIndexAsync(name, "city", PayloadSchemaType.Keyword, null, true, null,
        null).get();
    List<ScoredPoint> hits = client.queryAsync(QueryPoints.newBuilder()
        .setCollectionName(name).setQuery(nearest(0.2f, 0.1f, 0.9f, 0.7f))
        .setWithPayload(enable(true)).build()).get();
    List<String> found = new ArrayList<>();
    for (ScoredPoint h : hits) {
      found.add("{\"id\": " + idJson(h.getId()) + ", \"score\": " + h.getScore()
          + ", \"city\": " + str(h.getPayloadMap().get("city").getStringValue()) + "}");
    }
    out.add("\"query\": [" + String.join(", ", found) + "]");
    List<ScoredPoint> filtered = client.queryAsync(QueryPoints.newBuilder()
        .setCollectionName(name).setQuery(nearest(0.2f, 0.1f, 0.9f, 0.7f))
        .setFilter(Filter.newBuilder().addMust(matchKeyword("city", "London")).build())
        .build()).get();
    List<String> ids = new ArrayList<>();
    for (ScoredPoint h : filtered) {
      ids.add(idJson(h.getId()));
    }
    out.add("\"filtered\": [" + String.join(", ", ids) + "]");
    out.add("\"count\": " + client.countAsync(name).get());
    List<RetrievedPoint> got = client.retrieveAsync(name, List.of(id(1)), false, true, null)
        .get();
    out.add("\"vector_1\": " + got.get(0).getVectors().getVector().getDense().getDataList());
    out.add("\"scroll\": " + client.scrollAsync(ScrollPoints.newBuilder()
        .setCollectionName(name).build()).get().getResultCount());
    out.add("\"groups\": " + client.queryGroupsAsync(QueryPointGroups.newBuilder()
        .setCollectionName(name).setQuery(nearest(0.2f, 0.1f, 0.9f, 0.7f)).setGroupBy("city")
        .build()).get().size());
    out.add("\"facet\": " + client.facetAsync(FacetCounts.newBuilder().setCollectionName(name)
        .setKey("city").build()).get().size());
    out.add("\"points_count\": " + client.getCollectionInfoAsync(name).get().getPointsCount());
    client.deleteAsync(name, List.of(id(2))).get();
    out.add("\"count_after_delete\": " + client.countAsync(name).get());
    out.add("\"snapshot\": " + str(client.createSnapshotAsync(name).get().getName()));
    String missing = "";
    try {
      client.getCollectionInfoAsync(name + "_missing").get();
    } catch (ExecutionException e) {
      missing = e.getCause().toString();
    }
    out.add("\"missing_error\": " + str(missing));
    System.out.println("{" + String.join(", ", out) + "}");
    client.close();
  }
}
