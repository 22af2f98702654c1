"""A benchmark's figures: the contract's `--json` object, and a table for people."""

import math
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.load import LoadResult


@dataclass(frozen=True)
class Measurement:
    """What one system under load did: acknowledged rate, latency percentiles, answers by status."""

    rate: float
    p50_ms: float
    p99_ms: float
    acknowledged: int
    statuses: dict[str, int]
    client_cpu_s: float

    @classmethod
    def of(cls, load: LoadResult) -> "Measurement":
        latencies = sorted(load.latencies_ms)
        return cls(
            rate=len(latencies) / load.elapsed_s if load.elapsed_s else 0.0,
            p50_ms=percentile(latencies, 0.50),
            p99_ms=percentile(latencies, 0.99),
            acknowledged=len(latencies),
            statuses=dict(sorted(load.statuses.items())),
            client_cpu_s=load.client_cpu_s,
        )


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list; 0 for no samples."""
    if not ordered:
        return 0.0
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


@dataclass(frozen=True)
class BenchResult:
    """One scenario's run; the first seven fields plus the baseline's two are the contract's keys."""

    scenario: str
    unit: str
    measured: Measurement
    peak_rss_mb: float
    wall_s: float
    baseline: Measurement | None
    settings: dict[str, Any] = field(default_factory=dict)  # duration, concurrency, rate, clients, ...
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process, during the load only
    figures: dict[str, Any] = field(default_factory=dict)  # a scenario's own figures, beside the contract's keys

    def as_json(self) -> dict[str, Any]:
        m, b = self.measured, self.baseline
        return {
            "scenario": self.scenario,
            "unit": self.unit,
            "rate": round(m.rate, 1),
            "p50_ms": round(m.p50_ms, 2),
            "p99_ms": round(m.p99_ms, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "wall_s": round(self.wall_s, 1),
            "baseline_rate": round(b.rate, 1) if b else None,
            "ratio": round(m.rate / b.rate, 2) if b and b.rate else None,
            "acknowledged": m.acknowledged,
            "statuses": m.statuses,
            "baseline_p50_ms": round(b.p50_ms, 2) if b else None,
            "baseline_p99_ms": round(b.p99_ms, 2) if b else None,
            "baseline_statuses": b.statuses if b else None,
            "cpu_s": {name: round(seconds, 1) for name, seconds in self.cpu_s.items()},
            "settings": self.settings,
            **self.figures,
        }

    def print_table(self, console: Console) -> None:
        figures = self.as_json()
        table = Table(title=f"streamkeep bench {self.scenario}", show_header=True)
        table.add_column("")
        table.add_column("streamkeep (kafka)", justify="right")
        table.add_column("baseline (eventsourcing, PostgreSQL)", justify="right")
        b = self.baseline
        table.add_row(f"{self.unit}/s", f"{self.measured.rate:,.0f}", f"{b.rate:,.0f}" if b else "-")
        table.add_row("p50 ms", f"{self.measured.p50_ms:.1f}", f"{b.p50_ms:.1f}" if b else "-")
        table.add_row("p99 ms", f"{self.measured.p99_ms:.1f}", f"{b.p99_ms:.1f}" if b else "-")
        table.add_row("acknowledged", f"{self.measured.acknowledged:,}", f"{b.acknowledged:,}" if b else "-")
        table.add_row("answers", _statuses(self.measured.statuses), _statuses(b.statuses) if b else "-")
        console.print(table)
        ratio = f"{figures['ratio']}x the baseline" if figures["ratio"] is not None else "no baseline"
        cpu = ", ".join(f"{name} {seconds:.1f}" for name, seconds in figures["cpu_s"].items())
        console.print(f"{ratio}; worker peak RSS {self.peak_rss_mb:.0f} MB; wall {self.wall_s:.0f} s; CPU s: {cpu}")
        if self.figures:
            console.print(", ".join(f"{k} {v}" for k, v in self.figures.items()))
        console.print(f"settings: {', '.join(f'{k}={v}' for k, v in self.settings.items())}")


def _statuses(statuses: dict[str, int]) -> str:
    return ", ".join(f"{status}: {count:,}" for status, count in statuses.items()) or "-"
