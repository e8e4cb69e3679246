"""Small helpers for reading HTML responses in view tests."""

from __future__ import annotations

import re

_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken":\s*"([^"]+)"')


def csrf_token(response) -> str:
    """The CSRF token embedded in a rendered page (form field or hx-headers)."""
    html = response.get_data(as_text=True)
    match = _CSRF_RE.search(html)
    if not match:
        raise AssertionError("no CSRF token in page")
    return match.group(1) or match.group(2)
