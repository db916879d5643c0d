"""The descriptor pool server reflection answers from, with method symbols resolvable.

protobuf's upb pool finds the file of a service, message, field or enum by its full name,
but not of a method (`qdrant.Points.Search`), which is what `grpcurl describe` and `ghz
--call` ask for. `MethodAwarePool` looks a method up through its service and delegates
everything else to the default pool.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FileDescriptor


class MethodAwarePool:
    """A descriptor pool that also resolves `package.Service.Method` to its file."""

    def __init__(self, pool: descriptor_pool.DescriptorPool | None = None) -> None:
        self._pool = pool or descriptor_pool.Default()

    def FindFileContainingSymbol(self, full_name: str) -> FileDescriptor:
        try:
            return self._pool.FindFileContainingSymbol(full_name)
        except KeyError:
            service_name, _, method = full_name.rpartition(".")
            try:
                service = self._pool.FindServiceByName(service_name)
            except KeyError:
                service = None
            if service is None or method not in service.methods_by_name:
                raise
            return service.file

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)
