"""Reusable widgets: the on-screen keypad, and later the signature pad and the QR view."""
