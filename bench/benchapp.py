"""The app under test for the web benchmarks: `wsgi:app` with the status-page rate limit raised.

The limiter still counts every request in Redis (its cost is measured); only its limit is lifted,
because a load generator on one address would otherwise measure the 429 page.
"""

from wsgi import app

app.config.update(STATUS_RATE_LIMIT=10**9, STATUS_FALLBACK_LIMIT_CLIENT=10**9)
