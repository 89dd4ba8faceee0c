"""The sandbox exchange: a small stand-in for the health-insurance exchange that the kiosk
syncs with, implementing docs/SYNC_CONTRACT.md over HTTP for the demo and the tests.

It is a separate system from the kiosk and imports nothing from `kiosk` or `ui`. Run it with
``python -m sync.sandbox`` (see `__main__`), or from Python with `server.SandboxProcess`. The
web app is `app.create_app`; its database is `store.ExchangeStore`; its demo data comes from
`demo_data.generate`. This package module imports nothing, so that importing
`sync.sandbox.server` in the kiosk's process does not load the web stack.
"""
