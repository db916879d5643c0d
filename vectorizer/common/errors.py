"""Errors the engine raises, each carrying the HTTP status and message shape Qdrant uses.

The message prefixes follow Qdrant's `StorageError` display strings so clients
that match on them keep working.
"""

from __future__ import annotations


class VectorizerError(Exception):
    """Base error: `status_code` is the HTTP status, `str(err)` the full message."""

    status_code = 500
    prefix = "Service internal error: "
    grpc_code = "INTERNAL"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def __str__(self) -> str:
        return f"{self.prefix}{self.description}"


class BadInput(VectorizerError):
    """Wrong user input that parsed but makes no sense for this collection (400)."""

    status_code = 400
    prefix = "Wrong input: "
    grpc_code = "INVALID_ARGUMENT"


class BadRequest(VectorizerError):
    """A request Qdrant answers with `Bad request: …` (400)."""

    status_code = 400
    prefix = "Bad request: "
    grpc_code = "INVALID_ARGUMENT"


class AlreadyExists(VectorizerError):
    """Creating something that exists (409, message says `Wrong input:` as Qdrant's)."""

    status_code = 409
    prefix = "Wrong input: "
    grpc_code = "ALREADY_EXISTS"


class NotFound(VectorizerError):
    """A missing collection, alias, point, shard key or snapshot (404)."""

    status_code = 404
    prefix = "Not found: "
    grpc_code = "NOT_FOUND"


class FormatError(VectorizerError):
    """A body or query string that does not deserialize (400, `Format error in …`)."""

    status_code = 400
    prefix = ""
    grpc_code = "INVALID_ARGUMENT"


class ValidationError(VectorizerError):
    """A body that deserializes but breaks a declared constraint (422)."""

    status_code = 422
    prefix = ""
    grpc_code = "INVALID_ARGUMENT"


class Timeout(VectorizerError):
    """An operation that ran past its timeout (408)."""

    status_code = 408
    prefix = "Timeout: "
    grpc_code = "DEADLINE_EXCEEDED"


class PayloadTooLarge(VectorizerError):
    """A request body above `service.max_request_size_mb` (413)."""

    status_code = 413
    prefix = ""
    grpc_code = "RESOURCE_EXHAUSTED"


class ServiceError(VectorizerError):
    """An internal failure (500)."""


def collection_not_found(name: str) -> NotFound:
    """Qdrant's message for a missing collection."""
    return NotFound(f"Collection `{name}` doesn't exist!")


def point_not_found(point_id: object) -> NotFound:
    """Qdrant's message for a missing point."""
    return NotFound(f"No point with id {point_id} found")
