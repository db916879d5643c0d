"""Qdrant's public gRPC API: grpc.aio servicers converting protobuf ⟷ REST models at the edge."""
