"""Streaming `multipart/form-data` upload of a snapshot straight to a file.

The body is fed chunk by chunk from `request.stream()` into python-multipart's
streaming `MultipartParser`; the bytes of the first part named `field` (normally
`snapshot`) are written to the target file and hashed (sha256) as the parser hands
them over. Nothing is buffered beyond one network chunk and the parser's boundary
look-behind, whatever the upload's size. Other parts are parsed and discarded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from io import BufferedWriter
from pathlib import Path
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from vectorizer.common.errors import FormatError

if TYPE_CHECKING:  # the callback table's type exists for type checkers only
    from python_multipart.multipart import MultipartCallbacks

_PREFIX = "Format error in multipart body"


@dataclass
class Upload:
    """The saved part: where, its size, sha256 and the client's file name."""

    path: Path
    size: int
    sha256: str
    filename: str | None


def _decode(raw: bytes) -> str:
    """A header parameter as text: UTF-8 (what browsers and httpx send), else latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _PartWriter:
    """`MultipartParser` callbacks that stream the first complete `field` part to a file.

    Part headers are collected (they may arrive split across network chunks); once a
    part's headers are complete, its `Content-Disposition` decides whether its data goes
    to `target`. `upload` is set when that part ended, `ended` when the closing
    boundary was read.
    """

    def __init__(self, target: Path, field: str) -> None:
        self.target = target
        self.field = field.encode()
        self.digest = hashlib.sha256()
        self.size = 0
        self.filename: str | None = None
        self.upload: Upload | None = None
        self.ended = False
        self._out: BufferedWriter | None = None
        self._headers: dict[bytes, bytes] = {}
        self._name = bytearray()
        self._value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        """The callback table to hand to `MultipartParser`."""
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._name.clear()
        self._value.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._name).strip().lower()] = bytes(self._value).strip()
        self._name.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        if self.upload is not None:  # the first complete `field` part wins
            return
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != self.field:
            return
        filename = options.get(b"filename")
        self.filename = _decode(filename) if filename is not None else None
        self._out = open(self.target, "wb")  # noqa: SIM115 - closed in _part_end / close

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is None:
            return
        piece = memoryview(data)[start:end]
        self._out.write(piece)
        self.digest.update(piece)
        self.size += end - start

    def _part_end(self) -> None:
        if self._out is None:
            return
        self._out.close()
        self._out = None
        self.upload = Upload(self.target, self.size, self.digest.hexdigest(), self.filename)

    def _end(self) -> None:
        self.ended = True

    def close(self) -> None:
        """Close the target file if a part was cut off while being written."""
        if self._out is not None:
            self._out.close()
            self._out = None


async def receive_snapshot(request: Request, target: Path, field: str = "snapshot") -> Upload:
    """Write form field `field` of the request body to `target`.

    Raises `FormatError` (400) when the body is not `multipart/form-data` with a
    boundary, is malformed, or ends without a complete `field` part.
    """
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise FormatError(f"{_PREFIX}: expected multipart/form-data with a `{field}` file")
    writer = _PartWriter(target, field)
    try:
        parser = MultipartParser(boundary, writer.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
            if writer.ended:
                break
    except FormParserError as exc:  # a malformed body, header or boundary
        raise FormatError(f"{_PREFIX}: {exc}") from None
    finally:
        writer.close()
    if writer.upload is None:
        cut = "" if writer.ended else " (the body ended before the closing boundary)"
        raise FormatError(f"{_PREFIX}: no complete `{field}` file part{cut}")
    return writer.upload
