"""The log lines an invocation keeps: a bounded tail, so coldlab's memory never grows with log volume.

Every line still goes to its sink (the terminal, the server log) as it arrives; only what callers asked to
keep afterwards (`--json`'s lines, the Invoke API's 4 KB `Tail`) is held, and it is the last lines.
"""

from __future__ import annotations

from collections import deque

TAIL_BYTES = 1 << 20  # per invocation: far more than the Invoke API's 4 KB Tail
TAIL_LINES = 10_000


class LogTail:
    """The last lines appended, at most `max_bytes` of text and `max_lines` lines; counts what it dropped."""

    def __init__(self, max_bytes: int = TAIL_BYTES, max_lines: int = TAIL_LINES) -> None:
        self._max_bytes = max_bytes
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._bytes = 0
        self.dropped = 0

    def append(self, line: str) -> None:
        if len(self._lines) == self._lines.maxlen:
            self._forget_oldest()
        self._lines.append(line)
        self._bytes += len(line)
        while self._bytes > self._max_bytes and len(self._lines) > 1:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        self._bytes -= len(self._lines.popleft())
        self.dropped += 1

    def lines(self) -> tuple[str, ...]:
        return tuple(self._lines)
