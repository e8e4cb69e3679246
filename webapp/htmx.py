"""HTMX helpers: one URL serves the full page or, for an HTMX request, its fragment."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template

from webapp.extensions import htmx


def wants_fragment() -> bool:
    """True for an HTMX request that swaps part of the page.

    Boosted links and history restores replace the whole document, so they get the full page.
    """
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page_or_fragment(page: str, fragment: str, **context: Any) -> Response:
    """Render `page`, or only `fragment` (the partial the page includes) for an HTMX request.

    `Vary: HX-Request` keeps caches from serving the fragment as the page or the other way
    round.
    """
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


def hx_redirect(response: Response, location: str) -> Response:
    """Make htmx load `location` as a full page (instead of swapping it into a target)."""
    response.headers["HX-Redirect"] = location
    return response


def hx_refresh(response: Response) -> Response:
    """Make htmx reload the whole page after this response."""
    response.headers["HX-Refresh"] = "true"
    return response


def hx_trigger(response: Response, event: str) -> Response:
    """Fire a client-side event named `event` after the swap (HX-Trigger)."""
    existing = response.headers.get("HX-Trigger")
    response.headers["HX-Trigger"] = f"{existing}, {event}" if existing else event
    return response
