"""Payload field indexes: one class per Qdrant payload schema type."""
