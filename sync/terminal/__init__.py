"""The card terminal over the network: a nexo-style terminal protocol (JSON over local HTTP, as
Adyen's Terminal API speaks it), the adapter that puts it behind `kiosk.terminal.CardTerminal`
(`client.py`, `nexo.py`), and a sandbox terminal that runs as its own process
(`python -m sync.terminal`; `device.py`, `app.py`, `process.py`) for the demo and the tests.

The sandbox side (`wire`, `scenarios`, `device`, `app`, `process`, `__main__`) imports nothing
of the kiosk: it stands for somebody else's device. No Qt here.
"""
