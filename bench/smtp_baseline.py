"""The pipeline baseline: plain smtplib sending pre-rendered messages over one connection.

Run as `python -m bench.smtp_baseline --port P --count N --worker W [--template FILE]`. All
messages are rendered before the clock starts; then one persistent SMTP connection sends them
to the sink. With --template (a real message captured from the pipeline) every copy has the
same size and structure as what Statuslink sends, only the Message-ID differs.
"""

from __future__ import annotations

import argparse
import smtplib
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from pathlib import Path


def synthetic_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Demo Web Shop <shop@demo.example>"
    message["To"] = "Bench Customer <customer@bench.example>"
    message["Subject"] = "Ihre Bestellung BENCH-B-000000 wurde versandt"
    text = (
        "Guten Tag,\n\nIhre Bestellung ist unterwegs.\n\n" + "Der Zauberberg  1 x 24,90 EUR\n" * 5
    )
    message.set_content(text)
    message.add_alternative(f"<html><body><pre>{text}</pre></body></html>", subtype="html")
    return message


def render_messages(count: int, worker: int, template: Path | None) -> list[bytes]:
    """`count` complete messages as bytes, each with its own Message-ID."""
    if template is not None and template.exists():
        base = BytesParser(policy=SMTP).parsebytes(template.read_bytes())
    else:
        base = synthetic_message()
    rendered = []
    for n in range(count):
        del base["Message-ID"]
        base["Message-ID"] = f"<baseline-{worker}-{n}@bench.example>"
        rendered.append(base.as_bytes(policy=SMTP))
    return rendered


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--template", type=Path)
    args = parser.parse_args(argv)
    messages = render_messages(args.count, args.worker, args.template)
    with smtplib.SMTP("127.0.0.1", args.port, timeout=30) as smtp:
        for n, raw in enumerate(messages):
            smtp.sendmail("shop@demo.example", [f"customer{n}@bench.example"], raw)


if __name__ == "__main__":
    main()
