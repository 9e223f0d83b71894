"""An Airflow plugin that refuses a trigger of ``banking_transactions`` with an unknown conf key at the door.

Airflow validates a trigger's ``conf`` against the DAG's ``Param`` schemas, but a key that is not a
param is simply added (``ParamsDict.deep_merge``), so ``{"window_minute": 5}`` would be accepted with
HTTP 200 and only fail later, inside the generate task. This plugin adds a root middleware to the
api-server (``fastapi_root_middlewares``): a ``POST /api/v2/dags/banking_transactions/dagRuns`` whose
``conf`` has a key outside ``TRIGGER_PARAMS`` gets HTTP 400 with the allowed keys, and nothing is
created. Every other request passes through untouched. The generate task keeps its own check for
runs that do not come through the API (``airflow dags test``, ``dags trigger`` from the CLI).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from banking.stream.settings import TRIGGER_PARAMS

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

GUARDED_DAGS = {"banking_transactions": TRIGGER_PARAMS}
_TRIGGER_PATH = re.compile(r"/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/?")


def unknown_keys_problem(dag_id: str, body: bytes) -> str | None:
    """What is wrong with a trigger request's conf for ``dag_id``, or None (also for bodies Airflow
    itself will judge: not JSON, no conf, another DAG)."""
    allowed = GUARDED_DAGS.get(dag_id)
    if allowed is None:
        return None
    try:
        conf = json.loads(body or b"{}").get("conf")
    except (ValueError, AttributeError):
        return None
    if not isinstance(conf, dict):
        return None
    unknown = sorted(k for k in conf if k not in allowed)
    if not unknown:
        return None
    return f"unknown conf key(s) for {dag_id}: {', '.join(unknown)}; allowed: {', '.join(allowed)}"


class TriggerConfGuard:
    """ASGI middleware: answers 400 to a guarded DAG's trigger with unknown conf keys."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _TRIGGER_PATH.fullmatch(scope.get("path", "")) if scope.get("type") == "http" else None
        if match is None or scope.get("method") != "POST" or match["dag_id"] not in GUARDED_DAGS:
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        problem = unknown_keys_problem(match["dag_id"], body)
        if problem is not None:
            payload = json.dumps({"detail": problem}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class BankingTriggerGuardPlugin(AirflowPlugin):
    name = "banking_trigger_guard"
    fastapi_root_middlewares = [{"middleware": TriggerConfGuard, "name": "banking trigger conf guard"}]
