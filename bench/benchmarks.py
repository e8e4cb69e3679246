"""The six benchmarks. Each takes the shared Environment and the sizes and returns a BenchResult."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from bench.client import ApiClient, Reply, expect, order_payload, run_parallel, shipped_payload
from bench.harness import (
    FAILED,
    UNAVAILABLE,
    BenchResult,
    Metric,
    Target,
    latency_summary,
    percentile,
    rate,
    ratio,
)
from bench.load import LoadResult, get_paths_load, post_events_load
from bench.services import (
    BenchError,
    Environment,
    Proc,
    free_port,
    peak_rss_mb,
    python_bin,
)

APP = "bench.benchapp:app"
HELLO = "bench.hello:app"
STATUS_LINK_RE = re.compile(rb"https?://[^\s\"'<>]*/s/[A-Za-z0-9_.\-~%]+")


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark runs."""

    orders: int = 5000
    latency_rate: float = 20.0
    latency_seconds: float = 30.0
    load_seconds: float = 15.0
    status_connections: int = 32
    ingest_connections: int = 16
    ingest_pool: int = 1000
    status_links: int = 200
    scale_orders: int = 100_000
    scale_requests: int = 100
    drain_timeout: float = 600.0
    warmup_seconds: float = 3.0


FULL = Sizes()
SMOKE = Sizes(
    orders=50,
    latency_seconds=3.0,
    load_seconds=3.0,
    ingest_pool=50,
    status_links=20,
    scale_orders=1000,
    scale_requests=20,
    drain_timeout=30.0,
    warmup_seconds=1.0,
)


def numbers(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n:06d}" for n in range(1, count + 1)]


def create_orders(api: ApiClient, shop: str, prefix: str, count: int) -> float:
    """Create `count` orders through POST /api/v1/orders; return orders/s."""
    started = time.monotonic()
    replies = run_parallel(
        lambda n: api.request(
            "POST", "/api/v1/orders", order_payload(f"{prefix}-{n:06d}", shop, n)
        ),
        range(1, count + 1),
    )
    expect(replies, (200, 201), "POST /api/v1/orders")
    return count / (time.monotonic() - started)


def post_shipped(api: ApiClient, number: str, n: int) -> Reply:
    return api.request(
        "POST",
        f"/api/v1/orders/{number}/events",
        shipped_payload(n),
        headers={"Idempotency-Key": f"bench-{number}-shipped"},
    )


def messages_in(reply: Reply) -> int:
    body = reply.body if isinstance(reply.body, dict) else {}
    return len(body.get("messages") or [])


def status_links_in(eml_dir: Path, limit: int) -> list[str]:
    """The first /s/ URL of each captured e-mail (the contract's status link)."""
    import email
    from email import policy

    links = []
    for path in sorted(eml_dir.glob("*.eml"))[:limit]:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in message.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                match = STATUS_LINK_RE.search(part.get_content().encode())
                if match:
                    links.append(match.group(0).decode())
                    break
    return links


def worker_complaint(workers: list[Proc]) -> str:
    """'; worker: <first warning or error>' from the workers' logs, or '' when they have none."""
    for worker in workers:
        try:
            lines = worker.log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            if " WARNING " in line or " ERROR " in line or "Traceback" in line:
                return "; worker: " + line.split(": ", 1)[-1][:200]
    return ""


def _path_of(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]


# --- 1. pipeline throughput -----------------------------------------------------------------


def bench_pipeline(env: Environment, sizes: Sizes) -> BenchResult:
    result = BenchResult("pipeline", "Pipeline throughput")
    shop = env.state["webshop"]
    n = sizes.orders
    sink = env.start_sink("pipeline-sink")
    web = env.start_web(APP)
    api = ApiClient(env.base_url, env.state["api_key"])
    result.details["orders_per_s_created"] = round(create_orders(api, shop, "BENCH-P", n), 1)
    started = time.monotonic()
    replies = run_parallel(lambda i: post_shipped(api, f"BENCH-P-{i:06d}", i), range(1, n + 1))
    expect(replies, (202,), "POST /api/v1/orders/{number}/events")
    result.details["events_per_s_posted"] = round(n / (time.monotonic() - started), 1)
    expected = sum(messages_in(r) for r in replies)
    result.details["messages_planned"] = expected
    web.stop()
    if expected == 0:
        raise BenchError("the shipped events planned no message (no rule for `shipped`?)")

    workers = env.start_workers(2)
    t0 = time.time()
    arrived = sink.wait_for(expected, timeout=sizes.drain_timeout, idle_timeout=60)
    worker_rss = [peak_rss_mb(w.pid) for w in workers]
    for worker in workers:
        worker.stop()
    sink.stop()
    records = sink.records()
    if arrived < expected:
        result.notes.append(
            f"only {arrived} of {expected} messages arrived within the time limit; the rate "
            "covers those that did"
        )
    if arrived < 2:
        raise BenchError(f"{arrived} of {expected} messages arrived{worker_complaint(workers)}")
    long_lines = sum(1 for r in records if r.get("long_lines"))
    if long_lines:
        result.notes.append(
            f"{long_lines} of {len(records)} e-mails had lines over 998 characters (RFC 5321 "
            "limit; strict servers such as aiosmtpd's default reject them)"
        )
    times = sorted(r["t"] for r in records)
    pipeline_rate = rate(len(times), times[0], times[-1])
    result.details["pipeline"] = {
        "messages": len(times),
        "first_arrival_after_start_s": round(times[0] - t0, 2),
        "wall_rate_including_start": round(len(times) / (times[-1] - t0), 1),
    }
    env.state["worker_rss_mb"] = max((r for r in worker_rss if r is not None), default=None)
    env.state["status_links"] = status_links_in(sink.eml_dir, sizes.status_links)

    baseline_rate = smtplib_baseline(env, expected, sink.eml_dir, result)
    result.add(
        Metric(
            "messages/s (2 workers)",
            pipeline_rate,
            "msg/s",
            baseline=baseline_rate,
            baseline_label="smtplib ×2",
            ratio=ratio(pipeline_rate, baseline_rate),
            target=Target(">=", 0.5),
            judged_on="ratio",
        )
    )
    return result


def smtplib_baseline(env: Environment, count: int, eml_dir: Path, result: BenchResult) -> float:
    """Two plain smtplib processes sending `count` pre-rendered messages to a fresh sink."""
    sink = env.start_sink("baseline-sink", keep=0)
    templates = sorted(eml_dir.glob("*.eml"))
    template = ["--template", str(templates[0])] if templates else []
    if not templates:
        result.notes.append("baseline used a synthetic message (no captured e-mail)")
    halves = [count // 2, count - count // 2]
    procs = [
        env.start(
            f"smtplib{i}",
            [
                python_bin(),
                "-m",
                "bench.smtp_baseline",
                "--port",
                str(env.smtp_port),
                "--count",
                str(half),
                "--worker",
                str(i),
                *template,
            ],
        )
        for i, half in enumerate(halves)
    ]
    for proc in procs:
        try:
            proc.popen.wait(timeout=max(120, count / 20))
        except subprocess.TimeoutExpired as exc:
            raise BenchError("the smtplib baseline did not finish in time") from exc
        if proc.popen.returncode != 0:
            raise BenchError(f"the smtplib baseline failed: {proc.tail()}")
    sink.wait_for(count, timeout=30)
    sink.stop()
    times = sorted(r["t"] for r in sink.records())
    baseline = rate(len(times), times[0], times[-1]) if times else None
    if baseline is None:
        raise BenchError("the smtplib baseline delivered fewer than two messages")
    return baseline


# --- 2. latency -----------------------------------------------------------------------------


def bench_latency(env: Environment, sizes: Sizes) -> BenchResult:
    result = BenchResult("latency", "Latency API 202 → SMTP")
    shop = env.state["webshop"]
    count = max(2, round(sizes.latency_rate * sizes.latency_seconds))
    sink = env.start_sink("latency-sink")
    env.start_web(APP)
    api = ApiClient(env.base_url, env.state["api_key"])
    create_orders(api, shop, "BENCH-L", count + 1)
    workers = env.start_workers(2)
    # Warm-up: one message end to end, so worker start-up is not counted as latency.
    warm = post_shipped(api, f"BENCH-L-{count + 1:06d}", 0)
    expect([warm], (202,), "POST /api/v1/orders/{number}/events")
    if sink.wait_for(1, timeout=sizes.drain_timeout) < 1:
        raise BenchError(
            f"the warm-up message did not arrive within {sizes.drain_timeout:g} s"
            + worker_complaint(workers)
        )

    sent_at: dict[str, float] = {}
    failures: list[str] = []
    t0 = time.time() + 0.2
    interval = 1.0 / sizes.latency_rate

    def fire(i: int) -> None:
        number = f"BENCH-L-{i:06d}"
        delay = t0 + (i - 1) * interval - time.time()
        if delay > 0:
            time.sleep(delay)
        reply = post_shipped(api, number, i)
        if reply.status == 202:
            sent_at[number] = reply.done_at
        else:
            failures.append(f"{number}: HTTP {reply.status}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(fire, range(1, count + 1)))
    send_seconds = time.time() - t0
    sink.wait_for(count + 1, timeout=max(60, sizes.latency_seconds * 2), idle_timeout=30)
    for worker in workers:
        worker.stop()
    sink.stop()
    arrivals: dict[str, float] = {}
    for record in sink.records():
        key = record.get("key")
        if key and key not in arrivals:
            arrivals[key] = record["t"]
    latencies = [arrivals[n] - t for n, t in sent_at.items() if n in arrivals]
    if failures:
        result.notes.append(f"{len(failures)} event posts failed, e.g. {failures[0]}")
    lost = len(sent_at) - len(latencies)
    if lost:
        result.notes.append(f"{lost} of {len(sent_at)} messages did not arrive or did not match")
    if len(latencies) < max(2, count // 2):
        raise BenchError(
            f"only {len(latencies)} of {count} messages matched an arrival (by order number)"
        )
    summary = latency_summary(latencies)
    result.details.update(summary)
    achieved = len(sent_at) / send_seconds
    result.details["achieved_rate"] = round(achieved, 1)
    if achieved < 0.9 * sizes.latency_rate:
        result.notes.append(
            f"the API took events at only {achieved:.1f}/s of the {sizes.latency_rate:g}/s "
            "asked for (16 client threads)"
        )
    result.details["matched"] = len(latencies)
    result.add(Metric("p50", summary["p50_ms"], "ms"))
    result.add(Metric("p95", summary["p95_ms"], "ms", target=Target("<=", 1000)))
    result.add(Metric("p99", summary["p99_ms"], "ms"))
    env.state.setdefault("status_links", status_links_in(sink.eml_dir, sizes.status_links))
    return result


# --- 3. status page -------------------------------------------------------------------------


# Each side of a web benchmark (hello-world and Statuslink) is measured this many times and
# its best run kept. With gunicorn's threaded workers (BENCH_GUNICORN_ARGS) one worker now and
# then takes all of wrk's kept-alive connections and the other idles for the whole run, which
# halves that run's rate whichever app it serves; the default sync workers spread the load.
LOAD_RUNS = 2


def _best(runs: list[LoadResult]) -> tuple[LoadResult, list[float]]:
    return max(runs, key=lambda r: r.rps), [round(r.rps, 1) for r in runs]


def _hello_load(
    env: Environment, run: Callable[[str], LoadResult]
) -> tuple[LoadResult, list[float]]:
    """The best of LOAD_RUNS runs against hello-world, and the requests/s of every run."""
    port = free_port()
    hello = env.start_web(HELLO, name="hello", port=port)
    try:
        runs = [run(f"http://127.0.0.1:{port}") for _ in range(LOAD_RUNS)]
    finally:
        hello.stop()
    return _best(runs)


def _web_rss(master_pid: int) -> float | None:
    from bench.services import child_pids

    values = [peak_rss_mb(pid) for pid in child_pids(master_pid)]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _check_ok(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback http
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != 200:
        raise BenchError(f"GET {_path_of(url)[:20]}… answered {status}, not 200")


def bench_status(env: Environment, sizes: Sizes) -> BenchResult:
    result = BenchResult("status", "Status page /s/<token>")
    conns = sizes.status_connections

    def measure_paths(url: str, paths: list[str]) -> LoadResult:
        # The warm-up run fills caches and connection pools; only the second run is reported.
        get_paths_load(
            url, paths, connections=conns, duration=sizes.warmup_seconds, workdir=env.workdir
        )
        return get_paths_load(
            url, paths, connections=conns, duration=sizes.load_seconds, workdir=env.workdir
        )

    hello, hello_runs = _hello_load(env, lambda url: measure_paths(url, ["/"]))
    web = env.start_web(APP)
    api = ApiClient(env.base_url, env.state["api_key"])
    count = sizes.status_links
    create_orders(api, env.state["webshop"], "BENCH-T", count)
    try:
        minted = env.tool("mint-links", "--prefix", "BENCH-T", "--count", str(count))
        paths = minted["paths"]
        result.details["links"] = "minted with mint_status_link"
    except BenchError as exc:
        paths = [_path_of(u) for u in env.state.get("status_links", [])]
        result.details["links"] = "taken from delivered e-mails"
        if not paths:
            raise BenchError(
                f"no status links: minting failed ({exc}) and no e-mail had one"
            ) from exc
    _check_ok(env.base_url + paths[0])
    load, load_runs = _best([measure_paths(env.base_url, paths) for _ in range(LOAD_RUNS)])
    env.state["web_rss_mb"] = _web_rss(web.pid)
    web.stop()
    result.details["status_page"] = load.to_dict()
    result.details["status_page_runs_rps"] = load_runs
    result.details["hello_world"] = hello.to_dict()
    result.details["hello_world_runs_rps"] = hello_runs
    if load.errors > 0.01 * max(load.requests, 1):
        raise BenchError(f"{load.errors} of {load.requests} status-page requests failed")
    result.add(
        Metric(
            f"requests/s ({conns} connections)",
            load.rps,
            "req/s",
            baseline=hello.rps,
            baseline_label="hello-world",
            ratio=ratio(load.rps, hello.rps),
            target=Target(">=", 0.4),
            judged_on="ratio",
        )
    )
    result.add(
        Metric(
            "p99",
            load.p99_ms,
            "ms",
            baseline=hello.p99_ms,
            baseline_label="hello-world",
            ratio=ratio(load.p99_ms, hello.p99_ms),
            target=Target("<=", 50),
        )
    )
    return result


# --- 4. API ingest --------------------------------------------------------------------------


def bench_ingest(env: Environment, sizes: Sizes) -> BenchResult:
    result = BenchResult("ingest", "API ingest POST /events")
    conns = sizes.ingest_connections
    key = env.state["api_key"]
    pool = sizes.ingest_pool

    def measure_events(url: str, prefix: str = "BENCH-I") -> LoadResult:
        # The warm-up run fills caches and connection pools; only the second run is reported.
        post_events_load(url, prefix, pool, key, connections=conns, duration=sizes.warmup_seconds)
        return post_events_load(
            url, prefix, pool, key, connections=conns, duration=sizes.load_seconds
        )

    hello, hello_runs = _hello_load(env, measure_events)
    web = env.start_web(APP)
    api = ApiClient(env.base_url, key)
    # Every run gets its own pool of orders, so each starts with the same share of first
    # events (which plan a message) and repeats.
    prefixes = [f"BENCH-I{run}" for run in range(LOAD_RUNS)]
    for prefix in prefixes:
        create_orders(api, env.state["webshop"], prefix, pool)
    load, load_runs = _best([measure_events(env.base_url, prefix) for prefix in prefixes])
    web.stop()
    result.details["api"] = load.to_dict()
    result.details["api_runs_rps"] = load_runs
    result.details["hello_world"] = hello.to_dict()
    result.details["hello_world_runs_rps"] = hello_runs
    result.notes.append(
        f"shipped events with a fresh Idempotency-Key each over a pool of {pool} orders: the "
        "first per order plans a message, repeats are recorded as `repeated`"
    )
    if load.errors > 0.01 * max(load.requests, 1):
        raise BenchError(f"{load.errors} of {load.requests} event posts failed")
    result.add(
        Metric(
            f"events/s ({conns} connections)",
            load.rps,
            "ev/s",
            baseline=hello.rps,
            baseline_label="hello-world",
            ratio=ratio(load.rps, hello.rps),
            target=Target(">=", 0.15),
            judged_on="ratio",
        )
    )
    result.add(
        Metric(
            "p99",
            load.p99_ms,
            "ms",
            baseline=hello.p99_ms,
            baseline_label="hello-world",
            ratio=ratio(load.p99_ms, hello.p99_ms),
        )
    )
    return result


# --- 5. memory ------------------------------------------------------------------------------


def bench_memory(env: Environment, sizes: Sizes) -> BenchResult:
    result = BenchResult("memory", "Peak RSS")
    worker = env.state.get("worker_rss_mb")
    web = env.state.get("web_rss_mb")
    if worker is None or web is None:
        missing = [n for n, v in (("pipeline", worker), ("status", web)) if v is None]
        raise BenchError(f"no peak RSS: {' and '.join(missing)} did not produce one")
    result.add(Metric("worker during pipeline", worker, "MB", target=Target("<=", 150)))
    result.add(Metric("web process during status page", web, "MB", target=Target("<=", 120)))
    result.notes.append("VmHWM from /proc of each process; web = the larger gunicorn worker")
    return result


# --- 6. scale -------------------------------------------------------------------------------


class Browser:
    """A minimal cookie-keeping HTTP client for the admin UI (login via the real form)."""

    def __init__(self, base_url: str) -> None:
        self.api = ApiClient(base_url)
        self.cookies: dict[str, str] = {}

    def get(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, float]:
        import http.client

        conn = self.api._conn()
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        method = "GET"
        if data is not None:
            method = "POST"
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            conn.close()
            self.api._local.conn = None
            raise
        elapsed = time.perf_counter() - started
        for header in response.msg.get_all("Set-Cookie") or []:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return response.status, text, elapsed

    def login(self, email: str, password: str) -> None:
        status, page, _ = self.get("/login")
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page
        )
        if status != 200 or not match:
            raise BenchError(f"GET /login answered {status} without a CSRF token")
        status, _, _ = self.get(
            "/login", {"csrf_token": match.group(1), "email": email, "password": password}
        )
        if status not in (302, 303):
            raise BenchError(f"login as {email} failed (HTTP {status})")


def bench_scale(env: Environment, sizes: Sizes) -> BenchResult:
    result = BenchResult("scale", f"Order list at {sizes.scale_orders:,} orders")
    route = env.tool("order-list-route")["path"]
    if not route:
        result.status = UNAVAILABLE
        result.error = "the admin order list does not exist yet"
        return result
    started = time.monotonic()
    env.tool(
        "bulk-orders",
        "--shop",
        env.state["webshop"],
        "--prefix",
        "BENCH-X",
        "--count",
        str(sizes.scale_orders),
    )
    result.details["bulk_insert_s"] = round(time.monotonic() - started, 1)
    env.start_web(APP)
    browser = Browser(env.base_url)
    target_number = min(4711, sizes.scale_orders)
    browser.login(env.state["admin_email"], env.state["admin_password"])
    queries = [
        ("list", route),
        ("list page 50", f"{route}?{urlencode({'page': 50})}"),
        ("search number", f"{route}?{urlencode({'q': f'BENCH-X-{target_number:06d}'})}"),
        ("search name", f"{route}?{urlencode({'q': 'Müller'})}"),
    ]
    for label, path in queries:
        status, _, _ = browser.get(path)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}")
        timings = []
        for _ in range(sizes.scale_requests):
            _, _, elapsed = browser.get(path)
            timings.append(elapsed)
        result.add(
            Metric(
                f"{label} p95",
                round(percentile(timings, 95) * 1000, 2),
                "ms",
                target=Target("<=", 150),
            )
        )
    result.details["route"] = route
    return result


BENCHMARKS: dict[str, Callable[[Environment, Sizes], BenchResult]] = {
    "pipeline": bench_pipeline,
    "latency": bench_latency,
    "status": bench_status,
    "ingest": bench_ingest,
    "memory": bench_memory,
    "scale": bench_scale,
}
TITLES = {
    "pipeline": "Pipeline throughput",
    "latency": "Latency API 202 → SMTP",
    "status": "Status page /s/<token>",
    "ingest": "API ingest POST /events",
    "memory": "Peak RSS",
    "scale": "Order list",
}
# Benchmarks whose numbers another one reads.
REQUIRES = {"memory": ("pipeline", "status")}


def failed(name: str, error: str) -> BenchResult:
    return BenchResult(name, TITLES[name], status=FAILED, error=error)
