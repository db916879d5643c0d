"""The table of contents: every collection and alias on this node, and their lifecycles."""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from qdrant_client.http import models

from vectorizer.collection import config as cfg
from vectorizer.collection.collection import Collection, _write_json_atomic
from vectorizer.common.durable import fsync_dir
from vectorizer.common.errors import AlreadyExists, BadInput, NotFound, collection_not_found

log = logging.getLogger(__name__)

_BAD_NAME = re.compile(r"[<>:\"/\\|?*\x00-\x1f]")


def validate_collection_name(name: str) -> None:
    """Qdrant's rules: 1..255 chars, none of `<>:"/\\|?*`, no control chars, not `.`/`..`."""
    if not name or len(name) > 255 or _BAD_NAME.search(name) or name in {".", ".."}:
        raise BadInput(
            f"Collection name `{name}` is invalid: it must be 1 to 255 characters without "
            "any of <>:\"/\\|?* or control characters"
        )


class TableOfContents:
    """Collections and aliases stored under `storage_path`."""

    def __init__(self, storage_path: Path, settings: Any = None) -> None:
        self.storage_path = storage_path
        self.settings = settings
        self.collections_path = storage_path / "collections"
        self.collections_path.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.collections: dict[str, Collection] = {}
        self.aliases: dict[str, str] = {}
        self.peer_id = self._load_peer_id()
        self._load()

    # ------------------------------------------------------------ persistence

    def _load_peer_id(self) -> int:
        path = self.storage_path / "raft_state.json"
        if path.exists():
            return int(orjson.loads(path.read_bytes())["peer_id"])
        peer_id = uuid.uuid4().int & ((1 << 63) - 1)
        _write_json_atomic(path, {"peer_id": peer_id})
        return peer_id

    def _load(self) -> None:
        for child in sorted(self.collections_path.iterdir()):
            if child.name.startswith(".") or not (child / "collection.json").exists():
                if child.name.startswith(".tmp-") or child.name.startswith(".deleted-"):
                    shutil.rmtree(child, ignore_errors=True)
                continue
            name = orjson.loads((child / "name").read_bytes()) if (child / "name").exists() \
                else child.name
            started = time.perf_counter()
            self.collections[name] = Collection.open(name, child)
            log.info("Loaded collection %s in %.2fs", name, time.perf_counter() - started)
        aliases_path = self.storage_path / "aliases.json"
        if aliases_path.exists():
            self.aliases = orjson.loads(aliases_path.read_bytes())

    def _save_aliases(self) -> None:
        _write_json_atomic(self.storage_path / "aliases.json", self.aliases)

    def _dir_for(self, name: str) -> Path:
        return self.collections_path / name

    # ------------------------------------------------------------ lookups

    def resolve(self, name: str) -> str:
        """A collection name, following an alias."""
        with self.lock:
            if name in self.collections:
                return name
            target = self.aliases.get(name)
            if target is not None and target in self.collections:
                return target
        raise collection_not_found(name)

    def get(self, name: str) -> Collection:
        with self.lock:
            return self.collections[self.resolve(name)]

    def exists(self, name: str) -> bool:
        with self.lock:
            return name in self.collections

    def list_names(self) -> list[str]:
        with self.lock:
            return list(self.collections)

    # ------------------------------------------------------------ collections

    def create_collection(self, name: str, create: models.CreateCollection) -> bool:
        validate_collection_name(name)
        config = cfg.build_config(create, self.settings)
        with self.lock:
            if name in self.collections:
                raise AlreadyExists(f"Collection `{name}` already exists!")
            if name in self.aliases:
                raise AlreadyExists(f"Alias with name `{name}` already exists!")
            tmp = self.collections_path / f".tmp-{uuid.uuid4().hex}"
            col = Collection.create(name, tmp, config)
            (tmp / "name").write_bytes(orjson.dumps(name))
            col.close()
            final = self._dir_for(name)
            tmp.rename(final)
            fsync_dir(self.collections_path)
            self.collections[name] = Collection.open(name, final)
            return True

    def install_collection(self, name: str, new_dir: Path) -> None:
        """Put the prepared collection directory `new_dir` in place as `name` (a snapshot
        recovery): atomically swapped with the current one, which stops taking writes."""
        from vectorizer.storage.snapshots.fs import exchange_dirs

        with self.lock:
            if name in self.aliases:
                raise AlreadyExists(f"Alias with name `{name}` already exists!")
            old = self.collections.get(name)
            if old is None:
                final = self._dir_for(name)
                if final.exists():
                    shutil.rmtree(final)
                new_dir.rename(final)
            else:
                with old.update_lock:
                    for shard in old.shards.values():
                        shard.retire()
                final = old.path
                exchange_dirs(new_dir, final)
            fsync_dir(self.collections_path)
            try:
                self.collections[name] = Collection.open(name, final)
            except Exception:
                if old is None:  # put things back as they were
                    final.rename(new_dir)
                    self.collections.pop(name, None)
                else:
                    exchange_dirs(new_dir, final)
                    self.collections[name] = Collection.open(name, final)
                fsync_dir(self.collections_path)
                raise

    def delete_collection(self, name: str) -> bool:
        with self.lock:
            col = self.collections.pop(name, None)
            if col is None:
                return False
            for shard in col.shards.values():
                shard.retire()
            trash = self.collections_path / f".deleted-{uuid.uuid4().hex}"
            col.path.rename(trash)
            fsync_dir(self.collections_path)
            removed = [a for a, t in self.aliases.items() if t == name]
            for alias in removed:
                del self.aliases[alias]
            if removed:
                self._save_aliases()
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def update_collection(self, name: str, update: models.UpdateCollection) -> bool:
        self.get(name).update_config(update)
        return True

    # ------------------------------------------------------------ aliases

    def update_aliases(self, actions: list[Any]) -> bool:
        """Apply create/delete/rename alias actions atomically: all or none."""
        with self.lock:
            aliases = dict(self.aliases)
            for action in actions:
                if isinstance(action, models.CreateAliasOperation):
                    op = action.create_alias
                    if op.collection_name not in self.collections:
                        raise collection_not_found(op.collection_name)
                    if op.alias_name in self.collections:
                        raise AlreadyExists(
                            f"Collection with name `{op.alias_name}` already exists!"
                        )
                    aliases[op.alias_name] = op.collection_name
                elif isinstance(action, models.DeleteAliasOperation):
                    alias = action.delete_alias.alias_name
                    if alias not in aliases:
                        raise NotFound(f"Alias {alias} does not exists!")
                    del aliases[alias]
                elif isinstance(action, models.RenameAliasOperation):
                    op = action.rename_alias
                    if op.old_alias_name not in aliases:
                        raise NotFound(f"Alias {op.old_alias_name} does not exists!")
                    aliases[op.new_alias_name] = aliases.pop(op.old_alias_name)
                else:
                    raise BadInput(f"unknown alias action {action!r}")
            self.aliases = aliases
            self._save_aliases()
            return True

    def list_aliases(self, collection: str | None = None) -> list[dict[str, str]]:
        with self.lock:
            if collection is not None:
                real = self.resolve(collection)
                return [{"alias_name": a, "collection_name": t}
                        for a, t in self.aliases.items() if t == real]
            return [{"alias_name": a, "collection_name": t} for a, t in self.aliases.items()]

    # ------------------------------------------------------------ maintenance

    def _on_each_collection(self, action: str, work: Callable[[Collection], Any]) -> list[Any]:
        """Run `work` on every collection; one failing collection does not stop the others."""
        with self.lock:
            cols = list(self.collections.values())
        results = []
        for col in cols:
            try:
                results.append(work(col))
            except Exception:
                log.exception("%s of collection %s failed", action, col.name)
        return results

    def flush_all(self) -> None:
        self._on_each_collection("flush", Collection.flush)

    def optimize_all(self) -> bool:
        """One optimizer step over every collection; True if any work was done."""
        return any(self._on_each_collection("optimization", Collection.optimize))

    def close(self) -> None:
        with self.lock:
            for col in self.collections.values():
                col.close()
