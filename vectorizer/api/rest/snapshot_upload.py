"""Streaming `multipart/form-data` upload of a snapshot straight to a file.

The `snapshot` part of the body is written to disk as it arrives and hashed
on the way (sha256); nothing is buffered beyond one network chunk and the
boundary look-behind, whatever the upload's size.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from vectorizer.common.errors import FormatError

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_FILENAME = re.compile(r'filename="([^"]*)"', re.IGNORECASE)
_NAME = re.compile(r'(?:^|;)\s*name="([^"]*)"', re.IGNORECASE)
_MAX_HEADERS = 16 * 1024


@dataclass
class Upload:
    """The saved part: where, its size, sha256 and the client's file name."""

    path: Path
    size: int
    sha256: str
    filename: str | None


async def receive_snapshot(request: Request, target: Path, field: str = "snapshot") -> Upload:
    """Write form field `field` of the request body to `target`."""
    match = _BOUNDARY.search(request.headers.get("content-type", ""))
    if "multipart/form-data" not in request.headers.get("content-type", "") or not match:
        raise FormatError("Format error in multipart body: expected multipart/form-data with "
                          f"a `{field}` file")
    delimiter = b"\r\n--" + match.group(1).encode()
    buffer = b"\r\n"  # so the first boundary looks like every other one
    state = "preamble"
    digest = hashlib.sha256()
    size = 0
    filename: str | None = None
    out = None
    found = False
    try:
        async for chunk in request.stream():
            buffer += chunk
            while True:
                if state == "preamble" or state == "skip":
                    at = buffer.find(delimiter)
                    if at < 0:
                        buffer = buffer[-len(delimiter):]
                        break
                    buffer = buffer[at + len(delimiter):]
                    state = "after_delimiter"
                if state == "after_delimiter":
                    if len(buffer) < 2:
                        break
                    if buffer.startswith(b"--"):
                        state = "done"
                        break
                    state = "headers"
                if state == "headers":
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        if len(buffer) > _MAX_HEADERS:
                            raise FormatError("Format error in multipart body: part headers "
                                              "too long")
                        break
                    headers = buffer[:end].decode("latin-1")
                    buffer = buffer[end + 4:]
                    disposition = next((line.split(":", 1)[1] for line in headers.split("\r\n")
                                        if line.lower().startswith("content-disposition:")), "")
                    name = _NAME.search(disposition)
                    if name and name.group(1) == field and not found:
                        fname = _FILENAME.search(disposition)
                        filename = fname.group(1) if fname else None
                        out = open(target, "wb")  # noqa: SIM115 - closed below
                        state = "body"
                    else:
                        state = "skip"
                    continue
                if state == "body":
                    assert out is not None
                    at = buffer.find(delimiter)
                    if at < 0:
                        keep = len(delimiter) - 1
                        data, buffer = buffer[:-keep], buffer[-keep:]
                        if data:
                            out.write(data)
                            digest.update(data)
                            size += len(data)
                        break
                    data = buffer[:at]
                    out.write(data)
                    digest.update(data)
                    size += len(data)
                    out.close()
                    out = None
                    found = True
                    buffer = buffer[at + len(delimiter):]
                    state = "after_delimiter"
                    continue
                break
            if state == "done":
                break
    finally:
        if out is not None:
            out.close()
    if not found:
        raise FormatError(f"Format error in multipart body: no complete `{field}` file part")
    return Upload(target, size, digest.hexdigest(), filename)
