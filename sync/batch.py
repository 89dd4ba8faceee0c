"""Reading the exchange's answers to a batch and to a key lookup as ordinary answers.

A batch answer carries one result per operation; each is turned back into the `Answer` the
single request would have produced, so the delivery policy has one table for both.
"""

from __future__ import annotations

import json
from typing import Any

from sync.client import Answer

MAX_BATCH = 100


class UnreadableBatch(Exception):
    """A 200 batch answer that does not have one well-formed result per operation."""


def _result_answer(result: Any, key: str) -> Answer:
    if not isinstance(result, dict) or result.get("idempotency_key") != key:
        raise UnreadableBatch("result does not match its operation")
    status, body = result.get("status"), result.get("body")
    if not isinstance(status, int) or isinstance(status, bool) or not isinstance(body, str):
        raise UnreadableBatch("result has no status or body")
    headers = {"idempotent-replayed": "true"} if result.get("replayed") is True else {}
    return Answer(status=status, headers=headers, body=body.encode("utf-8"))


def split_batch_answer(answer: Answer, keys: list[str]) -> list[Answer]:
    """The per-operation answers of a 200 batch answer, in the order of `keys`."""
    try:
        data = json.loads(answer.body)
    except ValueError as exc:
        raise UnreadableBatch("not JSON") from exc
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != len(keys):
        raise UnreadableBatch("wrong number of results")
    return [_result_answer(result, key) for result, key in zip(results, keys, strict=True)]


def lookup_answer(answer: Answer) -> Answer | None:
    """The stored answer from a 200 key lookup, or None while the exchange is still processing.

    Raises UnreadableBatch when the lookup answer is malformed.
    """
    try:
        data = json.loads(answer.body)
    except ValueError as exc:
        raise UnreadableBatch("not JSON") from exc
    if not isinstance(data, dict) or data.get("state") not in ("processing", "done"):
        raise UnreadableBatch("no state")
    if data["state"] == "processing":
        return None
    status = data.get("status_code")
    if not isinstance(status, int) or isinstance(status, bool):
        raise UnreadableBatch("no status")
    body = json.dumps(data.get("body")).encode("utf-8")
    return Answer(status=status, headers={"idempotent-replayed": "true"}, body=body)
