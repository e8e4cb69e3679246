"""The benchmark's SMTP sink as a process: what it offers and what it records."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

from bench.services import ROOT, free_port, wait_for_port


@pytest.mark.parametrize("offers", [True, False], ids=["pipelining", "no-pipelining"])
def test_the_sink_offers_pipelining_unless_told_not_to(tmp_path: Path, offers: bool):
    port = free_port()
    log = tmp_path / "sink.jsonl"
    args = [sys.executable, "-m", "bench.smtp_sink", "--port", str(port), "--log", str(log)]
    sink = subprocess.Popen([*args, *([] if offers else ["--no-pipelining"])], cwd=ROOT)
    try:
        wait_for_port(port, proc=sink)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("pipelining") is offers
            message = b"Subject: Versand BENCH-P-000001\r\nMessage-ID: <m1@x>\r\n\r\nHallo\r\n"
            smtp.sendmail("shop@bench.example", ["kunde@bench.example"], message)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    record = json.loads(log.read_text().splitlines()[0])
    assert (record["key"], record["mid"], record["to"]) == (
        "BENCH-P-000001",
        "<m1@x>",
        ["kunde@bench.example"],
    )
