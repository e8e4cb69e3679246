"""Status links and the public, customer-facing order status pages."""

from __future__ import annotations

import os

from flask import Flask


def register_status(app: Flask) -> None:
    """Attach the public status pages: blueprint, security headers, rate limit, log redaction."""
    from webapp.status.logfilter import install_token_log_filter
    from webapp.status.pagecache import register_cached_pages
    from webapp.status.ratelimit import register_rate_limit
    from webapp.status.views import bp, register_public_headers

    app.config.setdefault("STATUS_DOCUMENT_URL_SECONDS", 3600)
    app.config.setdefault("LOGOS_DIR", os.path.join(app.instance_path, "logos"))
    register_rate_limit(app)
    register_public_headers(app)
    app.register_blueprint(bp)
    register_cached_pages(app)
    install_token_log_filter(app)
