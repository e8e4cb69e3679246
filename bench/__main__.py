"""`python -m bench [--smoke] [--db sqlite|postgresql] [--only name,...]`: run the benchmarks.

Writes bench/results/latest.json and latest.md; a full run also rewrites the table in
docs/benchmarks.md. Exits 1 when a benchmark failed to produce its numbers (a benchmark of a
part that does not exist yet is reported as "not available yet" and does not count as failed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from bench.benchmarks import BENCHMARKS, FULL, REQUIRES, SMOKE, Sizes, failed
from bench.harness import (
    RESULTS_DIR,
    BenchResult,
    build_report,
    smoke_failures,
    update_docs,
    write_results,
)
from bench.load import generator_name
from bench.services import (
    BenchError,
    Environment,
    free_port,
    private_database,
    private_redis,
)


def selected(only: str | None) -> list[str]:
    """Benchmark names to run, in run order, with the ones they need added."""
    if not only:
        return list(BENCHMARKS)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = wanted - set(BENCHMARKS)
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(BENCHMARKS)}"
        )
    for name in list(wanted):
        wanted.update(REQUIRES.get(name, ()))
    return [name for name in BENCHMARKS if name in wanted]


def prepare(env: Environment) -> None:
    """Schema, then the demo account (shops, templates, rules, API key) pointing at the sink."""
    # The schema comes from the models, not from migrations/: the benchmark measures the code
    # in the working tree, whose models may be ahead of the last generated revision.
    env.tool("schema")
    smtp_url = f"smtp://127.0.0.1:{env.smtp_port}"
    try:
        demo = json.loads(env.cli("demo", "--smtp", smtp_url, "--json").strip().splitlines()[-1])
    except BenchError as exc:
        if "No such command" not in str(exc):
            raise
        demo = env.tool("seed-demo", "--smtp", smtp_url)
    env.state["api_key"] = demo["api_key"]
    env.state["admin_email"] = demo.get("admin_email")
    env.state["admin_password"] = demo.get("admin_password")
    shops = demo.get("shops") or []
    webshops = [s["code"] for s in shops if s.get("kind") == "webshop"]
    if not webshops:
        raise BenchError(f"the demo account has no web shop: {shops!r}")
    env.state["webshop"] = webshops[0]


def run(
    names: list[str], sizes: Sizes, db_kind: str, log: Callable[[str], None], keep: bool = False
) -> list[BenchResult]:
    """Set up one private environment and run the named benchmarks in it, in order."""
    results: list[BenchResult] = []
    with ExitStack() as stack:
        if keep:
            workdir = Path(tempfile.mkdtemp(prefix="statuslink-bench-"))
        else:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="statuslink-bench-"))
            )
        env = Environment(workdir=workdir, db_kind=db_kind, stack=stack)
        try:
            env.redis_url = stack.enter_context(private_redis(workdir))
            env.database_url = stack.enter_context(private_database(db_kind, workdir, keep=keep))
            env.web_port = free_port()
            env.smtp_port = free_port()
            stack.callback(env.stop_all)
            log(f"setting up ({db_kind}) in {workdir}")
            prepare(env)
        except Exception as exc:  # noqa: BLE001 - every benchmark then reports the cause
            log(f"set-up failed: {exc}")
            return [failed(name, f"set-up failed: {exc}") for name in names]
        for name in names:
            log(f"running {name}")
            started = time.monotonic()
            try:
                result = BENCHMARKS[name](env, sizes)
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop the rest
                detail = "" if isinstance(exc, BenchError) else f"\n{traceback.format_exc()}"
                log(f"{name} failed: {exc}{detail}")
                result = failed(name, str(exc) or exc.__class__.__name__)
            finally:
                env.stop_all()
            result.seconds = round(time.monotonic() - started, 1)
            log(
                f"{name}: {result.status} in {result.seconds}s "
                + ", ".join(
                    f"{m.name}={m.value:.4g}" for m in result.metrics if m.value is not None
                )
            )
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks numbers exist")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHMARKS))
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help=argparse.SUPPRESS)
    parser.add_argument(
        "--keep-workdir",
        action="store_true",
        help="keep the temp dir (process logs) and a PostgreSQL database for debugging",
    )
    parser.add_argument("--orders", type=int, help="override the pipeline's order count")
    parser.add_argument("--seconds", type=float, help="override the load duration (status, ingest)")
    args = parser.parse_args(argv)

    names = selected(args.only)
    sizes = SMOKE if args.smoke else FULL
    if args.orders:
        sizes = replace(sizes, orders=args.orders)
    if args.seconds:
        sizes = replace(sizes, load_seconds=args.seconds)
    started_at = datetime.now(UTC)
    clock = time.monotonic()

    def log(message: str) -> None:
        print(f"[bench {time.monotonic() - clock:6.1f}s] {message}", file=sys.stderr, flush=True)

    results = run(names, sizes, args.db, log, keep=args.keep_workdir)
    report = build_report(
        results,
        mode="smoke" if args.smoke else "full",
        database=args.db,
        sizes=asdict(sizes),
        load_generator=generator_name(),
        started_at=started_at,
    )
    json_path, md_path = write_results(report, results, args.results_dir)
    if not args.smoke and not args.only:
        update_docs(report, results)
    print(md_path.read_text())
    log(f"wrote {json_path} and {md_path}")
    failures = smoke_failures(results)
    if failures:
        log(f"no numbers from: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
