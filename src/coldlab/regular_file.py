"""Opening a file that must be a regular one (a binary, a trace, a package), without hanging on a FIFO.

Opened with O_NONBLOCK, so a FIFO (or a device) is refused instead of waiting for a writer, and checked with
fstat on the descriptor itself, so the file cannot be swapped between the check and the read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


class NotRegularFile(Exception):  # noqa: N818 - a condition each caller words as its own ColdlabError
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "FIFO (named pipe)", "directory", ...


def open_regular(path: Path) -> int:
    """A blocking read-only descriptor of `path`; NotRegularFile when it is not a regular file, OSError when
    it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFile(next((name for test, name in _KINDS if test(mode)), "special file"))
    os.set_blocking(fd, True)
    return fd
