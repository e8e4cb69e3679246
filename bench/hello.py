"""The hello-world baseline: a bare Flask app served by the same gunicorn configuration.

`GET /` answers a short text, `POST` to any path parses a JSON body and answers 202 with a
small JSON document (the least any JSON API must do), `/healthz` lets the harness wait.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, world!"


@app.post("/", defaults={"path": ""})
@app.post("/<path:path>")
def accept(path: str):
    body = request.get_json(silent=True) or {}
    return jsonify({"accepted": True, "type": body.get("type")}), 202


@app.get("/healthz")
def healthz():
    return jsonify({"ok": True})
