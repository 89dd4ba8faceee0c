"""Talking to the exchange: the HTTP client, the delivery policy, the background sync worker,
and (in `sync.sandbox`) a sandbox exchange for the demo and the tests. No Qt here."""
