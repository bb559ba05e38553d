"""Progress for long commands: a rich bar (or live status line) on a terminal, plain lines elsewhere.

Off a terminal (a pipe, a log file, CI) nothing but plain text is written: a line when the work
starts, at most one every `every_s` seconds while it runs and one when it ends, so logs stay readable
and scripts see no control characters.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO


def is_terminal(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", None)) and stream.isatty()


class Progress:
    """`done` of `total` units (`total` None for open-ended work such as collection)."""

    def __init__(self, label: str, total: int | None = None, unit: str = "items", *,
                 stream: TextIO | None = None, every_s: float = 10.0):
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self.stream = stream or sys.stderr
        self.done, self.status = 0, ""
        self._started = self._last_line = time.monotonic()
        self._bar = None

    def __enter__(self) -> Progress:
        if is_terminal(self.stream):
            self._start_bar()
        else:
            planned = f"{self.total:,} {self.unit} to go" if self.total is not None else "started"
            print(f"{self.label}: {planned}", file=self.stream, flush=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._line("failed" if exc[0] else "done", terminal=True)

    def update(self, done: int | None = None, *, total: int | None = None, status: str | None = None) -> None:
        """Set the units done (and the total or the status text, when they are known only now)."""
        self.done = self.done if done is None else done
        self.total = self.total if total is None else total
        self.status = self.status if status is None else status
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, total=self.total, status=self.status,
                             rate=f"{self.rate:,.1f} {self.unit}/s")
        elif time.monotonic() - self._last_line >= self.every_s:
            self._line("")

    def console_line(self, text: str) -> None:
        """A line of output above the bar (or just a line, off a terminal)."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self._started, 1e-9)

    def summary(self) -> str:
        of = f"/{self.total:,}" if self.total is not None else ""
        took = time.monotonic() - self._started
        status = f"  {self.status}" if self.status else ""
        return f"{self.label}: {self.done:,}{of} {self.unit} in {took:.1f} s ({self.rate:,.1f} {self.unit}/s){status}"

    def _line(self, state: str, terminal: bool = False) -> None:
        if self._bar is not None and not terminal:
            return
        self._last_line = time.monotonic()
        print(self.summary() + (f" [{state}]" if state else ""), file=self.stream, flush=True)

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("{task.fields[status]}")]
        if self.total is None:  # open-ended: a live line, no bar
            columns = [TextColumn("{task.description}"), TimeElapsedColumn(), TextColumn("{task.fields[status]}")]
        self._bar = RichProgress(*columns, console=Console(file=self.stream), transient=True,
                                 refresh_per_second=4)
        self._task = self._bar.add_task(self.label, total=self.total, status="", rate="")
        self._bar.start()


@contextlib.contextmanager
def polling(fn: Callable[[], None], every_s: float = 0.5) -> Iterator[None]:
    """Call `fn` every `every_s` seconds in a thread while the block runs (e.g. to read counters that
    another loop updates); a failing `fn` stops polling, never the work."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                fn()
            except Exception:  # noqa: BLE001 - a display must not break the work it shows
                return

    thread = threading.Thread(target=loop, name="progress-poll", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
