"""The one bridge from background work to widgets: re-emits sync status as a queued signal."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from sync.worker import SyncStatus


class SyncBridge(QObject):
    """Lives on the UI thread; the sync worker calls `publish` from its own thread."""

    sig_status_changed = Signal(object)
    """A new `SyncStatus`; delivered on the UI thread (queued across threads)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.latest: SyncStatus | None = None

    def publish(self, status: SyncStatus) -> None:
        """Called by the sync worker's thread. Never touches a widget."""
        self.sig_status_changed.emit(status)
