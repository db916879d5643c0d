"""Qdrant's universal Query API: prefetch trees, query kinds, fusion, formulas and MMR.

`planner.query_batch` and `planner.query_groups` are the entry points; they take
`qdrant_client.http.models` requests and return wire-shaped points.
"""
