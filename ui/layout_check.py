"""Finds what a window shows cut off: text wider or taller than its widget, controls pushed
outside the window, content wider than its scroll area. Used by the layout test at every
screen size and text size, and by the screenshot tool."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QWidget,
)

SLACK = 1  # pixels of rounding allowed


def _inside_scroll(widget: QWidget) -> QScrollArea | None:
    """The scroll area whose content holds `widget`, if any."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            content = parent.widget()
            return parent if content is not None and content.isAncestorOf(widget) else None
        parent = parent.parentWidget()
    return None


def _part_of_a_control(widget: QWidget) -> bool:
    """Inner parts Qt draws for a control (a line edit's clear button, a scroll area's bars);
    the control itself is what is checked."""
    parent = widget.parentWidget()
    if isinstance(parent, QLineEdit | QComboBox):
        return True
    scroll = parent
    while scroll is not None and not isinstance(scroll, QScrollArea):
        scroll = scroll.parentWidget()
    return scroll is not None and _inside_scroll(widget) is None


def _text_problem(widget: QWidget) -> str:
    if isinstance(widget, QLabel) and widget.text() and widget.pixmap().isNull():
        if widget.wordWrap():
            needed = widget.heightForWidth(widget.width())
            if widget.height() + SLACK < needed:
                return f"text needs {needed}px height, has {widget.height()}"
        elif widget.width() + SLACK < widget.sizeHint().width():
            return f"text needs {widget.sizeHint().width()}px width, has {widget.width()}"
    if isinstance(widget, QAbstractButton | QComboBox | QLineEdit):
        hint = widget.minimumSizeHint() if isinstance(widget, QLineEdit) else widget.sizeHint()
        if widget.width() + SLACK < hint.width() or widget.height() + SLACK < hint.height():
            return (f"needs {hint.width()}x{hint.height()}, has "
                    f"{widget.width()}x{widget.height()}")
    return ""


def _outside_problem(widget: QWidget, window: QWidget) -> str:
    top_left = widget.mapTo(window, QPoint(0, 0))
    right = top_left.x() + widget.width()
    scroll = _inside_scroll(widget)
    if scroll is not None:
        viewport = scroll.viewport()
        edge = viewport.mapTo(window, QPoint(0, 0)).x() + viewport.width()
        if right > edge + SLACK:
            return f"ends at x={right}, beyond its scroll area's edge {edge}"
        return ""
    bottom = top_left.y() + widget.height()
    if right > window.width() + SLACK or bottom > window.height() + SLACK:
        return f"ends at ({right}, {bottom}), outside the {window.width()}x{window.height()} window"
    return ""


def layout_problems(window: QWidget) -> list[str]:
    """Every visible widget that is cut off or outside the window, described in words."""
    problems = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisibleTo(window) or widget.window() is not window:
            continue
        if _part_of_a_control(widget):
            continue
        for problem in (_text_problem(widget), _outside_problem(widget, window)):
            if problem:
                name = widget.accessibleName() or widget.objectName() or type(widget).__name__
                problems.append(f"{type(widget).__name__} {name!r}: {problem}")
    for scroll in window.findChildren(QScrollArea):
        inner = scroll.widget()
        if scroll.isVisibleTo(window) and inner is not None and (
                inner.minimumSizeHint().width() > scroll.viewport().width() + SLACK):
            problems.append(f"scroll area content needs {inner.minimumSizeHint().width()}px, "
                            f"has {scroll.viewport().width()}")
    return problems
