"""The development log provider."""

from __future__ import annotations

import json
import logging

from webapp.channels.sms.base import SenderConfig
from webapp.channels.sms.registry import get_provider


def test_log_provider_writes_a_json_line_and_succeeds(tmp_path, caplog):
    path = tmp_path / "sms.log"
    provider = get_provider(
        SenderConfig(provider="log", sender_id="Acme", settings={"path": str(path)})
    )
    with caplog.at_level(logging.INFO, logger="statuslink.sms"):
        result = provider.send("+491711234567", "Grüße", reference="m-1")
    assert result.state == "sent"
    assert result.provider_id.startswith("log-")
    record = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert record["to"] == "+491711234567"
    assert record["text"] == "Grüße"
    assert record["id"] == result.provider_id
    assert "Grüße" in caplog.text
    assert provider.delivery_state(result.provider_id) == "sent"
    assert provider.delivery_state("SM123") == "unknown"
