"""The layering rule: `kiosk/` and `sync/` never import Qt; `kiosk/` never imports requests
or the UI or sync packages (its launcher, `kiosk/__main__.py`, alone may reach `ui.app`, and
`sync.enrollment` for `device enroll`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
    return names


def violations(
    package: str, forbidden: tuple[str, ...], allowed_files: tuple[str, ...] = ()
) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed_files:
            continue
        for name in imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{rel} imports {name}")
    return found


def test_core_imports_no_qt_no_http_and_no_outer_layer() -> None:
    assert (
        violations(
            "kiosk",
            ("PySide6", "shiboken6", "requests", "urllib3", "ui", "sync", "qtawesome"),
            allowed_files=("kiosk/__main__.py",),
        )
        == []
    )


def test_the_launcher_reaches_the_ui_and_the_network_through_one_module_each() -> None:
    names = imported_modules(ROOT / "kiosk" / "__main__.py")
    assert not any(n.startswith(("PySide6", "requests")) for n in names)
    assert "ui.app" in names
    # `device enroll` makes one network call; the launcher reaches sync only for that.
    assert {n for n in names if n == "sync" or n.startswith("sync.")} == {"sync.enrollment"}


def test_sync_never_imports_qt_or_the_ui() -> None:
    assert violations("sync", ("PySide6", "shiboken6", "ui", "qtawesome")) == []


def test_the_sandbox_exchange_is_a_separate_system() -> None:
    assert violations("sync/sandbox", ("kiosk", "ui")) == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import PySide6.QtCore\nfrom requests import Session\n")
    assert {"PySide6.QtCore", "requests"} <= imported_modules(sample)
