"""Pure parts of the benchmark harness: statistics, targets, machine facts and result files."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS_FILE = ROOT / "docs" / "benchmarks.md"

TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"

# A benchmark ends in exactly one of these. "unavailable" is the marked state for a part of the
# product that does not exist yet; the smoke check accepts it, a "failed" benchmark never.
OK = "ok"
FAILED = "failed"
UNAVAILABLE = "unavailable"
UNAVAILABLE_TEXT = "not available yet"


def percentile(values: Iterable[float], pct: float) -> float:
    """The pct-th percentile (0-100) of values with linear interpolation between ranks."""
    data = sorted(values)
    if not data:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= pct <= 100:
        raise ValueError("pct must be within 0..100")
    if len(data) == 1:
        return float(data[0])
    rank = (len(data) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(data[low])
    return data[low] + (data[high] - data[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds of latencies given in seconds."""
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 2),
        "p95_ms": round(percentile(seconds, 95) * 1000, 2),
        "p99_ms": round(percentile(seconds, 99) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
    }


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None when either is missing or the baseline is zero."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def rate(count: int, first: float, last: float) -> float | None:
    """Items per second between the first and the last of `count` timestamps."""
    if count < 2 or last <= first:
        return None
    return (count - 1) / (last - first)


@dataclass
class Target:
    """A goal for one metric: `value <op> limit`, op being ">=" or "<="."""

    op: str
    limit: float

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.op == ">=":
            return value >= self.limit
        if self.op == "<=":
            return value <= self.limit
        raise ValueError(f"unknown target operator {self.op!r}")

    def describe(self, unit: str = "") -> str:
        suffix = f" {unit}" if unit and unit != "x" else ""
        return f"{self.op} {self.limit:g}{suffix}"


@dataclass
class Metric:
    """One reported figure with its baseline, the ratio between them and an optional target."""

    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_label: str | None = None
    ratio: float | None = None
    target: Target | None = None
    # Which of value/ratio the target is judged on.
    judged_on: str = "value"

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.target.met(self.ratio if self.judged_on == "ratio" else self.value)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = asdict(self.target) if self.target else None
        data["passed"] = self.passed
        return data


@dataclass
class BenchResult:
    """What one benchmark produced: its metrics, or why it has none."""

    name: str
    title: str
    status: str = OK
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float | None = None

    def add(self, metric: Metric) -> Metric:
        self.metrics.append(metric)
        return metric

    @property
    def produced_numbers(self) -> bool:
        """True when every metric has a value (and, with a baseline, a ratio)."""
        if self.status != OK or not self.metrics:
            return False
        for metric in self.metrics:
            if metric.value is None:
                return False
            if metric.baseline_label and metric.ratio is None:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "produced_numbers": self.produced_numbers,
            "metrics": [m.to_dict() for m in self.metrics],
            "details": self.details,
            "notes": self.notes,
            "error": self.error,
            "seconds": self.seconds,
        }


def smoke_failures(results: Sequence[BenchResult]) -> list[str]:
    """Names of benchmarks that neither produced their numbers nor are marked unavailable."""
    failures = []
    for result in results:
        if result.status == UNAVAILABLE:
            continue
        if not result.produced_numbers:
            failures.append(result.name)
    return failures


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_description() -> dict[str, Any]:
    """CPU model, cores, RAM, Python and OS of this machine."""
    cpu = "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", _read("/proc/cpuinfo"), re.MULTILINE)
    if match:
        cpu = match.group(1).strip()
    elif platform.processor():
        cpu = platform.processor()
    ram_mb = None
    match = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    if match:
        ram_mb = int(match.group(1)) // 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_mb": ram_mb,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def git_commit(root: Path = ROOT) -> dict[str, Any]:
    """The commit the tree is on and whether it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head or None, "dirty": bool(status.strip())}


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "x":
        return f"{value:.2f}×"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _verdict(passed: bool | None) -> str:
    if passed is None:
        return "—"
    return "pass" if passed else "**miss**"


def markdown_table(results: Sequence[BenchResult]) -> str:
    """The results as one Markdown table: a row per metric, a marked row per missing benchmark."""
    lines = [
        "| Benchmark | Metric | Statuslink | Baseline | Ratio | Target | Result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        if result.status == UNAVAILABLE:
            reason = result.error or "the part it measures does not exist yet"
            lines.append(f"| {result.title} | — | **{UNAVAILABLE_TEXT}** | — | — | — | {reason} |")
            continue
        if result.status == FAILED or not result.metrics:
            reason = (result.error or "no numbers").replace("|", "/").splitlines()[0][:160]
            lines.append(f"| {result.title} | — | **FAILED** | — | — | — | {reason} |")
            continue
        for metric in result.metrics:
            baseline = (
                f"{_fmt(metric.baseline, metric.unit)} ({metric.baseline_label})"
                if metric.baseline_label
                else "—"
            )
            target = "—"
            if metric.target:
                target_unit = "x" if metric.judged_on == "ratio" else metric.unit
                target = metric.target.describe(target_unit)
                if metric.judged_on == "ratio":
                    target = f"ratio {target}"
            lines.append(
                f"| {result.title} | {metric.name} | {_fmt(metric.value, metric.unit)} | "
                f"{baseline} | {_fmt(metric.ratio, 'x')} | {target} | {_verdict(metric.passed)} |"
            )
    return "\n".join(lines)


def markdown_report(report: dict[str, Any], results: Sequence[BenchResult]) -> str:
    """The whole latest.md: header with machine and commit, the table, then notes per benchmark."""
    machine = report["machine"]
    commit = report["git"]
    lines = [
        "# Benchmark results",
        "",
        f"- When: {report['started_at']} ({report['mode']} run, database: {report['database']})",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_mb']} MB RAM, "
        f"Python {machine['python']}, {machine['os']}",
        f"- Commit: {commit['commit'] or 'unknown'}"
        + (" (with uncommitted changes)" if commit.get("dirty") else ""),
        f"- Load generator: {report['load_generator']}",
        f"- Sizes: {json.dumps(report['sizes'], sort_keys=True)}",
        "",
        markdown_table(results),
        "",
    ]
    noted = [r for r in results if r.notes or r.error]
    if noted:
        lines.append("## Notes")
        lines.append("")
        for result in noted:
            for note in result.notes:
                lines.append(f"- **{result.title}**: {note}")
            if result.error and result.status == FAILED:
                lines.append(f"- **{result.title}** failed: {result.error.splitlines()[0]}")
        lines.append("")
    return "\n".join(lines)


def build_report(
    results: Sequence[BenchResult],
    *,
    mode: str,
    database: str,
    sizes: dict[str, Any],
    load_generator: str,
    started_at: datetime | None = None,
) -> dict[str, Any]:
    """The JSON document written to latest.json."""
    return {
        "started_at": (started_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "mode": mode,
        "database": database,
        "sizes": sizes,
        "load_generator": load_generator,
        "machine": machine_description(),
        "git": git_commit(),
        "results": [r.to_dict() for r in results],
        "failed": smoke_failures(results),
    }


def write_results(
    report: dict[str, Any], results: Sequence[BenchResult], directory: Path = RESULTS_DIR
) -> tuple[Path, Path]:
    """Write latest.json and latest.md into `directory` and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "latest.json"
    md_path = directory / "latest.md"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    md_path.write_text(markdown_report(report, results))
    return json_path, md_path


def replace_docs_table(text: str, table_block: str) -> str:
    """Put `table_block` between the table markers of docs text (appending markers if absent)."""
    block = f"{TABLE_START}\n{table_block.rstrip()}\n{TABLE_END}"
    if TABLE_START in text and TABLE_END in text:
        head, _, rest = text.partition(TABLE_START)
        _, _, tail = rest.partition(TABLE_END)
        return head + block + tail
    return text.rstrip() + "\n\n" + block + "\n"


def update_docs(
    report: dict[str, Any], results: Sequence[BenchResult], path: Path = DOCS_FILE
) -> None:
    """Rewrite the results table in docs/benchmarks.md from a full run."""
    machine = report["machine"]
    header = (
        f"Latest full run: {report['started_at']}, database {report['database']}, commit "
        f"`{(report['git']['commit'] or 'unknown')[:12]}`"
        + (" (with uncommitted changes)" if report["git"].get("dirty") else "")
        + f"; {machine['cpu']}, {machine['cores']} cores, {machine['ram_mb']} MB RAM, "
        f"Python {machine['python']}; load generator {report['load_generator']}.\n\n"
    )
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    path.write_text(replace_docs_table(text, header + markdown_table(results)))
