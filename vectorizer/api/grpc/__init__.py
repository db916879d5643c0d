"""api/grpc package."""
