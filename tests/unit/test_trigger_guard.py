"""The api-server plugin that refuses unknown trigger conf keys, driven as the ASGI app it wraps sees it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from banking.stream.settings import TRIGGER_PARAMS
from banking_trigger_guard import TriggerConfGuard, unknown_keys_problem

PATH = "/api/v2/dags/banking_transactions/dagRuns"


def call(path: str, body: bytes, method: str = "POST", chunk: int = 7) -> tuple[list[dict], list[bytes]]:
    """Send ``body`` (in small chunks) through the guard; what the client got, what the app read."""
    seen: list[bytes] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        data, more = b"", True
        while more:
            message = await receive()
            data += message.get("body", b"")
            more = message.get("more_body", False)
        seen.append(data)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path}
    asyncio.run(TriggerConfGuard(app)(scope, receive, send))
    return sent, seen


def trigger(conf: Any) -> bytes:
    return json.dumps({"logical_date": None, "conf": conf}).encode()


def test_an_unknown_key_is_refused_with_the_allowed_ones() -> None:
    sent, seen = call(PATH, trigger({"window_minute": 5, "fraud_rate": 0.1}))
    assert seen == []  # nothing reached Airflow
    assert sent[0]["status"] == 400
    detail = json.loads(sent[1]["body"])["detail"]
    assert detail == (
        "unknown conf key(s) for banking_transactions: window_minute; allowed: " + ", ".join(TRIGGER_PARAMS)
    )


@pytest.mark.parametrize("conf", [{"window_minutes": 5, "rate_per_minute": 10}, {}, None])
def test_known_keys_pass_with_the_body_intact(conf: Any) -> None:
    body = trigger(conf)
    sent, seen = call(PATH, body)
    assert seen == [body] and sent[0]["status"] == 200


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v2/dags/banking_backtest/dagRuns", "POST"),  # another DAG: Airflow decides
        (PATH, "GET"),
        ("/api/v2/dags/banking_transactions/dagRuns/list", "POST"),
    ],
)
def test_other_requests_pass_untouched(path: str, method: str) -> None:
    body = trigger({"window_minute": 5})
    sent, seen = call(path, body, method)
    assert seen == [body] and sent[0]["status"] == 200


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"conf": [1]}', b""])
def test_bodies_airflow_judges_itself_pass(body: bytes) -> None:
    assert unknown_keys_problem("banking_transactions", body) is None
    assert call(PATH, body)[1] == [body]
