//! Drives a Vectorizer server with Qdrant's official Rust client (gRPC) and prints what it
//! got back as one JSON object; tests/test_official_clients.py compares it with the
//! Python client's answers on the same data.

use qdrant_client::qdrant::{
    point_id::PointIdOptions, vectors_output::VectorsOptions, vector_output::Vector, Condition,
    CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FacetCountsBuilder, FieldType, Filter, GetPointsBuilder,
    PointId, PointStruct, PointsIdsList, QueryPointGroupsBuilder, QueryPointsBuilder,
    RecommendPointsBuilder, ScrollPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant};
use serde_json::{json, Value};

const UUID: &str = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26";

fn id_json(id: &Option<PointId>) -> Value {
    match id.as_ref().and_then(|id| id.point_id_options.as_ref()) {
        Some(PointIdOptions::Num(n)) => json!(n),
        Some(PointIdOptions::Uuid(u)) => json!(u),
        None => Value::Null,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port = args.next().expect("gRPC port");
    let name = args.next().expect("collection name");
    let client = Qdrant::from_url(&format!("http://127.0.0.1:{port}"))
        .skip_compatibility_check()
        .build()?;
    let mut out = serde_json::Map::new();
    out.insert("version".into(), json!(client.health_check().await?.version));
    client
        .create_collection(
            CreateCollectionBuilder::new(&name)
                .vectors_config(VectorParamsBuilder::new(4, Distance::Cosine)),
        )
        .await?;
    out.insert("exists".into(), json!(client.collection_exists(&name).await?));
    let points = vec![
        PointStruct::new(1, vec![0.05, 0.61, 0.76, 0.74],
                         Payload::try_from(json!({"city": "Berlin", "n": 3}))?),
        PointStruct::new(2, vec![0.19, 0.81, 0.75, 0.11],
                         Payload::try_from(json!({"city": "London", "n": 1.5}))?),
        PointStruct::new(UUID.to_string(), vec![0.36, 0.55, 0.47, 0.94],
                         Payload::try_from(json!({"city": "Moscow", "tags": ["a", "b"]}))?),
    ];
    client.upsert_points(UpsertPointsBuilder::new(&name, points).wait(true)).await?;
    client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new(&name, "city", FieldType::Keyword).wait(true),
        )
        .await?;
    let query = vec![0.2, 0.1, 0.9, 0.7];
    let hits = client
        .query(QueryPointsBuilder::new(&name).query(query.clone()).with_payload(true))
        .await?;
    out.insert("query".into(), Value::Array(hits.result.iter().map(|h| json!({
        "id": id_json(&h.id),
        "score": h.score,
        "city": h.payload.get("city").and_then(|v| v.as_str()).map(|s| s.to_string()),
    })).collect()));
    let london = Filter::must([Condition::matches("city", "London".to_string())]);
    let filtered = client
        .query(QueryPointsBuilder::new(&name).query(query.clone()).filter(london))
        .await?;
    out.insert("filtered".into(),
               Value::Array(filtered.result.iter().map(|h| id_json(&h.id)).collect()));
    let recommended = client
        .recommend(RecommendPointsBuilder::new(&name, 3).add_positive(1))
        .await?;
    out.insert("recommend".into(),
               Value::Array(recommended.result.iter().map(|h| id_json(&h.id)).collect()));
    let count = client.count(CountPointsBuilder::new(&name).exact(true)).await?;
    out.insert("count".into(), json!(count.result.map(|c| c.count)));
    let got = client
        .get_points(GetPointsBuilder::new(&name, vec![1.into()]).with_vectors(true))
        .await?;
    let vector = got.result[0].vectors.as_ref().and_then(|v| match &v.vectors_options {
        Some(VectorsOptions::Vector(v)) => match &v.vector {
            Some(Vector::Dense(dense)) => Some(dense.data.clone()),
            _ => None,
        },
        _ => None,
    });
    out.insert("vector_1".into(), json!(vector));
    let scrolled = client.scroll(ScrollPointsBuilder::new(&name).limit(10)).await?;
    out.insert("scroll".into(), json!(scrolled.result.len()));
    let groups = client
        .query_groups(QueryPointGroupsBuilder::new(&name, "city").query(query.clone()))
        .await?;
    out.insert("groups".into(), json!(groups.result.map(|g| g.groups.len())));
    let facet = client.facet(FacetCountsBuilder::new(&name, "city")).await?;
    out.insert("facet".into(), json!(facet.hits.len()));
    let info = client.collection_info(&name).await?;
    out.insert("points_count".into(), json!(info.result.and_then(|i| i.points_count)));
    client
        .delete_points(
            DeletePointsBuilder::new(&name)
                .points(PointsIdsList { ids: vec![2.into()] })
                .wait(true),
        )
        .await?;
    let count = client.count(CountPointsBuilder::new(&name).exact(true)).await?;
    out.insert("count_after_delete".into(), json!(count.result.map(|c| c.count)));
    let snapshot = client.create_snapshot(&name).await?;
    out.insert("snapshot".into(), json!(snapshot.snapshot_description.map(|s| s.name)));
    let missing = client.collection_info(format!("{name}_missing")).await;
    out.insert("missing_error".into(), json!(missing.err().map(|e| e.to_string())));
    println!("{}", Value::Object(out));
    Ok(())
}
