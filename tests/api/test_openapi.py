"""The OpenAPI document at /api/v1/openapi.json and the API's error-handler boundaries."""

from __future__ import annotations

import json

EXPECTED = {
    "/api/v1/orders": {"post"},
    "/api/v1/orders/{number}": {"get"},
    "/api/v1/orders/{number}/events": {"post"},
    "/api/v1/orders/{number}/documents": {"post"},
    "/api/v1/messages/{message_id}": {"get"},
}


def test_openapi_document_lists_every_path_with_bearer_auth(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    spec = json.loads(response.get_data(as_text=True))
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Statuslink API"
    for path, methods in EXPECTED.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), path
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <api key>",
    }
    assert spec["security"] == [{"bearerAuth": []}]


def test_openapi_document_describes_bodies_and_errors(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]

    orders = spec["paths"]["/api/v1/orders"]["post"]
    assert "application/json" in orders["requestBody"]["content"]
    assert {"200", "201", "401", "422"} <= set(orders["responses"])
    assert {"number", "shop", "fulfillment", "customer", "items"} <= set(
        schemas["OrderIn"]["required"]
    )
    assert schemas["EventIn"]["properties"]["type"]["enum"][0] == "invoiced"
    upload = spec["paths"]["/api/v1/orders/{number}/documents"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]
    assert schemas["DocumentUploadIn"]["properties"]["file"]["format"] == "binary"
    events = spec["paths"]["/api/v1/orders/{number}/events"]["post"]
    assert "202" in events["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in events["parameters"])
    assert set(schemas["ErrorBody"]["properties"]) == {"code", "message", "fields"}


def test_api_error_handler_does_not_take_over_html_pages(client):
    # flask-smorest's app-wide handler would answer every 404 with JSON; ours is API-only.
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    api_response = client.get("/api/v1/no-such-thing")
    assert api_response.status_code == 404
    assert api_response.mimetype == "application/json"
    assert set(api_response.get_json()["error"]) >= {"code", "message"}
