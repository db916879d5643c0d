"""Filesystem steps recovery needs: swapping two directories in one atomic step.

`exchange_dirs` uses Linux `renameat2(RENAME_EXCHANGE)`: after a crash the
target path holds either the old or the new directory, never neither.  On a
filesystem without it, two renames are done (with a short window logged).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def exchange_dirs(a: Path, b: Path) -> None:
    """Atomically swap the directories at `a` and `b` (both must exist)."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b),
                      _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(a))
    log.warning("renameat2(RENAME_EXCHANGE) unavailable: swapping %s and %s in two steps", a, b)
    parked = a.with_name(a.name + ".swap")
    b.rename(parked)
    a.rename(b)
    parked.rename(a)
