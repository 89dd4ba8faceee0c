"""Running service calls off the UI thread and handing the result back on it.

Screens call `runner.run(fn, on_done=..., on_error=...)`; `fn` runs on a pool thread, and the
callbacks run on the UI thread through a queued signal. This is the only way screens reach
the services, so no screen ever blocks the UI thread on the vault or the card terminal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class _Task(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[], Any], runner: TaskRunner) -> None:
        super().__init__()
        self._task_id = task_id
        self._fn = fn
        self._runner = runner

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # handed to the screen, which shows a message
            log.info("task failed: %s", type(exc).__name__)
            self._runner.sig_task_finished.emit(self._task_id, None, exc)
            return
        self._runner.sig_task_finished.emit(self._task_id, result, None)


class TaskRunner(QObject):
    """Runs callables on a thread pool; results come back on the thread that owns the runner."""

    sig_task_finished = Signal(int, object, object)
    """Emitted on a pool thread with (task id, result, error); delivered queued on the UI
    thread, where the task's callbacks run."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._callbacks: dict[int, tuple[Callable[[Any], None],
                                         Callable[[Exception], None]]] = {}
        self._next_id = 0
        self._closed = False
        self.sig_task_finished.connect(self._on_self_task_finished)

    @property
    def busy(self) -> int:
        """How many tasks have not yet delivered their result."""
        return len(self._callbacks)

    def run(self, fn: Callable[[], Any], *, on_done: Callable[[Any], None],
            on_error: Callable[[Exception], None]) -> None:
        if self._closed:
            log.debug("task refused: the runner is shut down")
            return
        self._next_id += 1
        self._callbacks[self._next_id] = (on_done, on_error)
        self._pool.start(_Task(self._next_id, fn, self))

    @Slot(int, object, object)
    def _on_self_task_finished(self, task_id: int, result: Any, error: Exception | None
                               ) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None:
            return  # the runner was shut down; the screens are gone
        on_done, on_error = callbacks
        if error is not None:
            on_error(error)
        else:
            on_done(result)

    def wait_all(self, msecs: int = 30000) -> bool:
        """Block until every task finished on its thread (for shutdown and tests)."""
        return bool(self._pool.waitForDone(msecs))

    def shutdown(self, msecs: int = 30000) -> None:
        """Refuse new tasks, wait for running ones, and drop every callback not yet
        delivered (at exit, when the screens are about to go)."""
        self._closed = True
        self._pool.waitForDone(msecs)
        self._callbacks.clear()
