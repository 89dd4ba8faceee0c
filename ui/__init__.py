"""The Qt screens of the kiosk. The only package that imports PySide6."""
