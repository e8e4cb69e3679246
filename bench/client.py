"""A small keep-alive JSON client for seeding orders and posting events through the real API."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    body: Any
    done_at: float  # epoch seconds when the response had been read


class ApiClient:
    """One keep-alive connection per thread to the app under test."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.api_key = api_key
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self._local.conn = conn
        return conn

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = {"Accept": "application/json"}
        if self.api_key:
            all_headers["Authorization"] = f"Bearer {self.api_key}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=payload, headers=all_headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        done_at = time.time()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")[:300]
        return Reply(response.status, data, done_at)


def order_payload(number: str, shop: str, n: int) -> dict[str, Any]:
    """An order as a web shop would push it: one customer, two items."""
    return {
        "number": number,
        "shop": shop,
        "fulfillment": "own",
        "currency": "EUR",
        "payment": {"method": "paid"},
        "customer": {
            "name": f"Bench Customer {n}",
            "email": f"customer{n}@bench.example",
            "language": "de",
            "channel": "email",
        },
        "items": [
            {"sku": f"SKU-{n % 97}", "title": "Der Zauberberg", "quantity": 1, "unit_price": 24.9},
            {"sku": "SKU-BAG", "title": "Tragetasche", "quantity": 2, "unit_price": 1.5},
        ],
    }


def shipped_payload(n: int) -> dict[str, Any]:
    return {
        "type": "shipped",
        "tracking": {"carrier": "DHL", "number": f"JJD{n:012d}"},
    }


def run_parallel(
    func: Callable[[Any], Reply], items: Iterable[Any], threads: int = 8
) -> list[Reply]:
    """Apply func to every item on `threads` threads, keeping the input order."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(func, items))


def expect(replies: list[Reply], statuses: tuple[int, ...], what: str) -> None:
    """Raise with the first unexpected reply, so a broken API fails the benchmark clearly."""
    for reply in replies:
        if reply.status not in statuses:
            raise RuntimeError(f"{what}: HTTP {reply.status}: {str(reply.body)[:300]}")
