"""A progress bar on stderr for long simulations: it appears only once the work has run for about a second
(COLDLAB_PROGRESS_DELAY_S), so quick runs print nothing extra, and long ones never run silently."""

from __future__ import annotations

import os
import time
from types import TracebackType
from typing import TYPE_CHECKING

from coldlab.cli.output import err_console

if TYPE_CHECKING:  # rich is imported when a bar is drawn, not with the command (`--help` stays light)
    from rich.progress import Progress, ProgressColumn, TaskID

DEFAULT_DELAY_S = 1.0


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get("COLDLAB_PROGRESS_DELAY_S", DEFAULT_DELAY_S)))
    except ValueError:
        return DEFAULT_DELAY_S


class LazyProgress:
    """One task. `update` is cheap until the delay has passed; then the bar starts and follows."""

    def __init__(self, label: str, unit: str, *, total: float | None, show: bool = True) -> None:
        self.label, self.unit, self.total, self.show = label, unit, total, show
        self.completed = 0.0
        self._started_at = time.monotonic()
        self._delay = _delay()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def _columns(self) -> list[ProgressColumn | str]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if self.total is None:  # unknown total: a count that grows
            return [TextColumn(self.label), BarColumn(), TextColumn(f"{{task.completed:,.0f}} {self.unit}")]
        if self.unit == "% of simulated time":
            count: ProgressColumn = TextColumn(f"{{task.percentage:>3.0f}}{self.unit}")
        else:
            count = MofNCompleteColumn()
        return [TextColumn(self.label), BarColumn(), count, TimeElapsedColumn(), TimeRemainingColumn()]

    def update(self, completed: float | None = None, *, advance: float = 0.0) -> None:
        self.completed = completed if completed is not None else self.completed + advance
        if self.total is not None:
            self.completed = min(self.completed, self.total)
        if not self.show:
            return
        if self._bar is None:
            if time.monotonic() - self._started_at < self._delay:
                return
            from rich.progress import Progress

            self._bar = Progress(*self._columns(), console=err_console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        assert self._task is not None
        self._bar.update(self._task, completed=self.completed)

    def set_total(self, total: float) -> None:
        self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)

    def __enter__(self) -> LazyProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
