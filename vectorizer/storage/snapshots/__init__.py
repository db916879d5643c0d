"""Snapshots: tar archives of a collection, a shard or the whole storage, and their recovery.

`archive` writes and safely extracts the tar files, `manifest` describes what is
inside, `store` keeps them (with their `.checksum` files) under `snapshots_path`,
`fetch` brings a snapshot from a `file://` or http(s) location, and
`collection`, `shard` and `full` create and recover each kind.
"""
