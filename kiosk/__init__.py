"""Health Connector Kiosk application core: domain rules, services, the vault and the outbox.

Nothing in this package imports Qt or an HTTP library; the screens (`ui/`) and the exchange
client (`sync/`) build on it.
"""

APP_NAME = "health-connector-kiosk"
