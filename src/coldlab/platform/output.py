"""Collect a bootstrap's output (stdout and stderr share one pipe) as log lines, drainable on demand.

The pipe is read by the event loop as data arrives. `drain()` reads whatever is still buffered in the
kernel synchronously, so every line written before the runtime's next API call is logged before END.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

_MAX_LINE = 256 * 1024  # CloudWatch caps events at 256 KiB; longer lines are split like it does


class OutputPipe:
    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._partial = b""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.read_fd, self.drain)
        self._open = True

    def close_write_end(self) -> None:
        """Call once the child has the write end, so EOF arrives when the child exits."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def drain(self) -> None:
        """Read everything available now and emit complete lines."""
        if not self._open:
            return
        while True:
            try:
                chunk = os.read(self.read_fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:  # EOF: every writer has gone
                self._loop.remove_reader(self.read_fd)
                break
            self._emit(self._partial + chunk)

    def _emit(self, data: bytes) -> None:
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            self._on_line(line.decode("utf-8", "replace").rstrip("\r"))
        while len(self._partial) > _MAX_LINE:
            self._on_line(self._partial[:_MAX_LINE].decode("utf-8", "replace"))
            self._partial = self._partial[_MAX_LINE:]

    def flush(self) -> None:
        """Drain, then emit a final line that has no newline yet."""
        self.drain()
        if self._partial:
            self._on_line(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def close(self) -> None:
        if not self._open:
            return
        self.flush()
        self._open = False
        self._loop.remove_reader(self.read_fd)
        self.close_write_end()
        with contextlib.suppress(OSError):
            os.close(self.read_fd)
