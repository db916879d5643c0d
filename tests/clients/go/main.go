// Drives a Vectorizer server with Qdrant's official Go client (gRPC only) and prints what
// it got back as one JSON object; tests/test_official_clients.py compares it with the
// Python client's answers on the same server.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/qdrant/go-client/qdrant"
)

func must(err error, what string) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL", what, err)
		os.Exit(1)
	}
}

func pointID(id *qdrant.PointId) any {
	if id.GetUuid() != "" {
		return id.GetUuid()
	}
	return id.GetNum()
}

type hit struct {
	ID    any     `json:"id"`
	Score float32 `json:"score"`
	City  string  `json:"city"`
}

func main() {
	port, _ := strconv.Atoi(os.Args[1])
	name := os.Args[2]
	client, err := qdrant.NewClient(&qdrant.Config{Host: "127.0.0.1", Port: port,
		SkipCompatibilityCheck: true})
	must(err, "connect")
	defer client.Close()
	ctx := context.Background()
	out := map[string]any{}
	health, err := client.HealthCheck(ctx)
	must(err, "health")
	out["version"] = health.GetVersion()
	must(client.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: name,
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{
			Size: 4, Distance: qdrant.Distance_Cosine}),
	}), "create")
	exists, err := client.CollectionExists(ctx, name)
	must(err, "exists")
	out["exists"] = exists
	wait := true
	_, err = client.Upsert(ctx, &qdrant.UpsertPoints{
		CollectionName: name, Wait: &wait,
		Points: []*qdrant.PointStruct{
			{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(0.05, 0.61, 0.76, 0.74),
				Payload: qdrant.NewValueMap(map[string]any{"city": "Berlin", "n": 3})},
			{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectors(0.19, 0.81, 0.75, 0.11),
				Payload: qdrant.NewValueMap(map[string]any{"city": "London", "n": 1.5})},
			{Id: qdrant.NewID("5c56c793-69f3-4fbf-87e6-c4bf54c28c26"),
				Vectors: qdrant.NewVectors(0.36, 0.55, 0.47, 0.94),
				Payload: qdrant.NewValueMap(map[string]any{"city": "Moscow",
					"tags": []any{"a", "b"}})},
		},
	})
	must(err, "upsert")
	_, err = client.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
		CollectionName: name, FieldName: "city",
		FieldType: qdrant.FieldType_FieldTypeKeyword.Enum(), Wait: &wait})
	must(err, "create field index")
	query := qdrant.NewQuery(0.2, 0.1, 0.9, 0.7)
	hits, err := client.Query(ctx, &qdrant.QueryPoints{CollectionName: name, Query: query,
		WithPayload: qdrant.NewWithPayload(true)})
	must(err, "query")
	var found []hit
	for _, h := range hits {
		found = append(found, hit{pointID(h.Id), h.Score, h.Payload["city"].GetStringValue()})
	}
	out["query"] = found
	filtered, err := client.Query(ctx, &qdrant.QueryPoints{CollectionName: name, Query: query,
		Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("city", "London")}}})
	must(err, "filtered query")
	var ids []any
	for _, h := range filtered {
		ids = append(ids, pointID(h.Id))
	}
	out["filtered"] = ids
	count, err := client.Count(ctx, &qdrant.CountPoints{CollectionName: name})
	must(err, "count")
	out["count"] = count
	points, err := client.Get(ctx, &qdrant.GetPoints{CollectionName: name,
		Ids: []*qdrant.PointId{qdrant.NewIDNum(1)}, WithVectors: qdrant.NewWithVectors(true)})
	must(err, "get")
	out["vector_1"] = points[0].Vectors.GetVector().GetDense().GetData()
	scroll, err := client.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: name})
	must(err, "scroll")
	out["scroll"] = len(scroll)
	groups, err := client.QueryGroups(ctx, &qdrant.QueryPointGroups{CollectionName: name,
		Query: query, GroupBy: "city"})
	must(err, "query groups")
	out["groups"] = len(groups)
	facet, err := client.Facet(ctx, &qdrant.FacetCounts{CollectionName: name, Key: "city"})
	must(err, "facet")
	out["facet"] = len(facet)
	info, err := client.GetCollectionInfo(ctx, name)
	must(err, "collection info")
	out["status"] = info.GetStatus().String()
	out["points_count"] = info.GetPointsCount()
	_, err = client.Delete(ctx, &qdrant.DeletePoints{CollectionName: name, Wait: &wait,
		Points: qdrant.NewPointsSelector(qdrant.NewIDNum(2))})
	must(err, "delete")
	count, err = client.Count(ctx, &qdrant.CountPoints{CollectionName: name})
	must(err, "count after delete")
	out["count_after_delete"] = count
	snapshot, err := client.CreateSnapshot(ctx, name)
	must(err, "create snapshot")
	out["snapshot"] = snapshot.GetName()
	_, err = client.Query(ctx, &qdrant.QueryPoints{CollectionName: name + "_missing",
		Query: query})
	out["missing_error"] = fmt.Sprint(err)
	encoded, err := json.Marshal(out)
	must(err, "json")
	fmt.Println(string(encoded))
}
