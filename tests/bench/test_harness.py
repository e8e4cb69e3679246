"""The benchmark harness's pure parts: statistics, targets, result files, wrk parsing, matching."""

from __future__ import annotations

import json

import pytest

from bench.harness import (
    FAILED,
    TABLE_END,
    TABLE_START,
    UNAVAILABLE,
    UNAVAILABLE_TEXT,
    BenchResult,
    Metric,
    Target,
    build_report,
    latency_summary,
    markdown_table,
    percentile,
    rate,
    ratio,
    replace_docs_table,
    smoke_failures,
    write_results,
)
from bench.load import parse_wrk_output
from bench.smtp_sink import find_key


def test_percentile_interpolates_between_ranks():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 10
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(reversed(values), 95) == pytest.approx(9.55)
    assert percentile([42], 99) == 42


def test_percentile_rejects_empty_and_out_of_range():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_latency_summary_in_milliseconds():
    summary = latency_summary([0.1] * 98 + [0.5, 2.0])
    assert summary["p50_ms"] == pytest.approx(100)
    assert summary["max_ms"] == pytest.approx(2000)
    assert 100 < summary["p99_ms"] <= 2000


def test_ratio_and_rate_handle_missing_values():
    assert ratio(50, 100) == 0.5
    assert ratio(None, 100) is None
    assert ratio(5, 0) is None
    assert rate(11, 100.0, 105.0) == pytest.approx(2.0)
    assert rate(1, 100.0, 105.0) is None


def test_targets_judge_value_or_ratio():
    assert Target(">=", 0.5).met(0.5) is True
    assert Target("<=", 50).met(50.1) is False
    assert Target("<=", 50).met(None) is None
    on_ratio = Metric("rps", 10, "req/s", 100, "hello", 0.1, Target(">=", 0.4), "ratio")
    assert on_ratio.passed is False
    on_value = Metric("p99", 30, "ms", target=Target("<=", 50))
    assert on_value.passed is True


def _results() -> list[BenchResult]:
    ok = BenchResult("status", "Status page")
    ok.add(Metric("requests/s", 400, "req/s", 1000, "hello-world", 0.4, Target(">=", 0.4), "ratio"))
    ok.add(Metric("p99", 60, "ms", target=Target("<=", 50)))
    missing = BenchResult("scale", "Order list", status=UNAVAILABLE, error="no order list yet")
    broken = BenchResult("pipeline", "Pipeline", status=FAILED, error="0 of 50 arrived\ntrace")
    return [ok, missing, broken]


def test_smoke_accepts_only_numbers_or_the_marked_unavailable_state():
    ok, missing, broken = _results()
    assert smoke_failures([ok, missing]) == []
    assert smoke_failures([ok, missing, broken]) == ["pipeline"]
    no_ratio = BenchResult("ingest", "Ingest")
    no_ratio.add(Metric("events/s", 10, "ev/s", None, "hello-world", None))
    assert smoke_failures([no_ratio]) == ["ingest"]
    assert smoke_failures([BenchResult("memory", "Peak RSS")]) == ["memory"]


def test_markdown_table_marks_pass_miss_unavailable_and_failed():
    table = markdown_table(_results())
    lines = table.splitlines()
    assert lines[0].startswith("| Benchmark |")
    assert "| 0.40× | ratio >= 0.4 | pass |" in table
    assert "| 60.0 ms | — | — | <= 50 ms | **miss** |" in table
    assert f"**{UNAVAILABLE_TEXT}**" in table
    assert "| **FAILED** |" in table and "0 of 50 arrived" in table and "trace" not in table


def test_write_results_writes_json_and_markdown(tmp_path):
    results = _results()
    report = build_report(
        results, mode="smoke", database="sqlite", sizes={"orders": 50}, load_generator="wrk"
    )
    json_path, md_path = write_results(report, results, tmp_path)
    data = json.loads(json_path.read_text())
    assert data["mode"] == "smoke"
    assert data["failed"] == ["pipeline"]
    assert {"cpu", "cores", "ram_mb", "python", "os"} <= set(data["machine"])
    assert "commit" in data["git"]
    status = data["results"][0]
    assert status["produced_numbers"] is True
    assert status["metrics"][0]["ratio"] == 0.4 and status["metrics"][0]["passed"] is True
    assert data["results"][1]["status"] == UNAVAILABLE
    markdown = md_path.read_text()
    assert markdown.startswith("# Benchmark results")
    assert "| Status page | requests/s |" in markdown


def test_replace_docs_table_keeps_the_prose_around_it():
    text = f"# Benchmarks\n\nIntro.\n\n{TABLE_START}\nold table\n{TABLE_END}\n\n## Notes\nkeep\n"
    updated = replace_docs_table(text, "| new |")
    assert "old table" not in updated
    assert "| new |" in updated
    assert updated.startswith("# Benchmarks\n\nIntro.") and updated.endswith("## Notes\nkeep\n")
    appended = replace_docs_table("# Benchmarks\n", "| t |")
    assert TABLE_START in appended and appended.index(TABLE_START) < appended.index("| t |")


def test_parse_wrk_output_reads_the_report_line():
    output = (
        "Running 3s test @ http://127.0.0.1:8000\n"
        'BENCHJSON {"requests": 300, "duration_us": 3000000, "bytes": 1000, "errors": '
        '{"connect": 0, "read": 0, "write": 0, "status": 2, "timeout": 1}, "latency_us": '
        '{"p50": 1000, "p90": 2000, "p95": 3000, "p99": 40000, "max": 50000, "mean": 1200.0}}\n'
    )
    result = parse_wrk_output(output)
    assert result.rps == pytest.approx(100)
    assert result.errors == 3
    assert result.p99_ms == pytest.approx(40)
    with pytest.raises(ValueError):
        parse_wrk_output("no report here")


def test_sink_finds_the_order_number_in_subject_or_body():
    assert find_key("Ihre Bestellung BENCH-L-000042 ist unterwegs", b"") == "BENCH-L-000042"
    raw = b"Subject: =?utf-8?q?Versand?=\r\n\r\nBestellung BENCH-P-000007\r\n"
    assert find_key("Versand", raw) == "BENCH-P-000007"
    assert find_key("Versand", b"Subject: x\r\n\r\nnothing") is None
