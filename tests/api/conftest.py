"""Helpers for the API tests: order payloads and a client bound to one tenant's key."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.factories import Tenant

ORDER = {
    "number": "1001",
    "shop": "web",
    "fulfillment": "FBM",
    "currency": "EUR",
    "payment": {"method": "invoice", "due_days": 14},
    "customer": {
        "name": "Erika Mustermann",
        "email": "erika@example.com",
        "phone": "0151 23456789",
        "language": "de",
        "channel": "email",
    },
    "items": [
        {"sku": "BK-1", "title": "The Book", "quantity": 2, "unit_price": 12.5},
        {"title": "Bookmark", "quantity": 1, "unit_price": "1.00"},
    ],
}


def order_payload(**overrides: Any) -> dict[str, Any]:
    """A valid order body; top-level keys replaced by `overrides`."""
    body = copy.deepcopy(ORDER)
    body.update(overrides)
    return body


class ApiClient:
    """The test client with a tenant's bearer key on every request."""

    def __init__(self, client: FlaskClient, tenant: Tenant):
        self.client = client
        self.tenant = tenant

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {**self.tenant.headers, **(headers or {})}

    def get(self, path: str, **kwargs: Any):
        return self.client.get(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, **kwargs: Any):
        return self.client.post(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def create_order(self, **overrides: Any) -> dict[str, Any]:
        response = self.post("/api/v1/orders", json=order_payload(**overrides))
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    def event(self, number: str, body: dict[str, Any], **kwargs: Any):
        return self.post(f"/api/v1/orders/{number}/events", json=body, **kwargs)


@pytest.fixture()
def api(client: FlaskClient, tenant: Tenant) -> ApiClient:
    return ApiClient(client, tenant)


@pytest.fixture()
def other_api(client: FlaskClient, other_tenant: Tenant) -> ApiClient:
    return ApiClient(client, other_tenant)


def assert_error(response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a JSON error in the API's format; returns its "error" object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error
