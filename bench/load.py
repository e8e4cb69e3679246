"""HTTP load generation: wrk with the Lua scripts in bench/scripts, or a Python fallback."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import percentile

SCRIPTS = Path(__file__).resolve().parent / "scripts"

Request = tuple[str, str, dict[str, str], bytes | None]


@dataclass
class LoadResult:
    """Throughput and latency of one load run."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    generator: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "generator": self.generator,
        }


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def generator_name() -> str:
    return "wrk" if wrk_binary() else "python (wrk not installed)"


def parse_wrk_output(text: str) -> LoadResult:
    """Read the BENCHJSON line printed by scripts/report.lua."""
    for line in text.splitlines():
        if line.startswith("BENCHJSON "):
            data = json.loads(line[len("BENCHJSON ") :])
            lat = data["latency_us"]
            errors = sum(data["errors"].values())
            return LoadResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                errors=errors,
                p50_ms=lat["p50"] / 1000,
                p95_ms=lat["p95"] / 1000,
                p99_ms=lat["p99"] / 1000,
                max_ms=lat["max"] / 1000,
                generator="wrk",
            )
    raise ValueError(f"no BENCHJSON line in wrk output: {text[-400:]!r}")


def run_wrk(
    url: str,
    script: str,
    script_args: Sequence[str],
    *,
    connections: int,
    duration: float,
    threads: int = 2,
) -> LoadResult:
    """Run wrk with one of the Lua scripts against url for `duration` seconds."""
    binary = wrk_binary()
    if binary is None:
        raise RuntimeError("wrk is not installed")
    args = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPTS / script),
        url,
        "--",
        *script_args,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return parse_wrk_output(done.stdout)


def run_python_load(
    url: str,
    make_request: Callable[[int, int], Request],
    *,
    connections: int,
    duration: float,
) -> LoadResult:
    """A closed-loop load generator: `connections` threads with one keep-alive connection each."""
    parts = urlsplit(url)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop_at = time.monotonic() + duration

    def loop(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        sent = 0
        while time.monotonic() < stop_at:
            method, path, headers, body = make_request(index, sent)
            sent += 1
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    errors[index] += 1
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                continue
            latencies[index].append(time.perf_counter() - started)
        conn.close()

    started = time.monotonic()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.monotonic() - started
    flat = [x for chunk in latencies for x in chunk] or [0.0]
    return LoadResult(
        requests=sum(len(chunk) for chunk in latencies),
        seconds=seconds,
        errors=sum(errors),
        p50_ms=percentile(flat, 50) * 1000,
        p95_ms=percentile(flat, 95) * 1000,
        p99_ms=percentile(flat, 99) * 1000,
        max_ms=max(flat) * 1000,
        generator="python",
    )


def get_paths_load(
    base_url: str, paths: Sequence[str], *, connections: int, duration: float, workdir: Path
) -> LoadResult:
    """GET the paths round-robin under load."""
    if not paths:
        raise ValueError("no paths to request")
    if wrk_binary():
        path_file = workdir / f"paths-{uuid.uuid4().hex[:6]}.txt"
        path_file.write_text("\n".join(paths) + "\n")
        return run_wrk(
            base_url, "get_paths.lua", [str(path_file)], connections=connections, duration=duration
        )
    return run_python_load(
        base_url,
        lambda index, sent: ("GET", paths[(index * 7919 + sent) % len(paths)], {}, None),
        connections=connections,
        duration=duration,
    )


def post_events_load(
    base_url: str,
    prefix: str,
    pool: int,
    api_key: str,
    *,
    connections: int,
    duration: float,
) -> LoadResult:
    """POST shipped events over a pool of orders `<prefix>-000001..pool` under load."""
    nonce = uuid.uuid4().hex[:8]
    if wrk_binary():
        return run_wrk(
            base_url,
            "post_event.lua",
            [prefix, str(pool), api_key, nonce],
            connections=connections,
            duration=duration,
        )

    def make(index: int, sent: int) -> Request:
        number = (index * 104729 + sent) % pool + 1
        body = json.dumps(
            {"type": "shipped", "tracking": {"carrier": "DHL", "number": f"JJD{index}{sent:08d}"}}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {api_key}",
            "Idempotency-Key": f"bench-{nonce}-{index}-{sent}",
        }
        return ("POST", f"/api/v1/orders/{prefix}-{number:06d}/events", headers, body)

    return run_python_load(base_url, make, connections=connections, duration=duration)
