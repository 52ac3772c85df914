"""The benchmark page's charts and headline, drawn from a small made-up result.

What a reader checks on a chart: every value is written, and no two labels sit on top of each
other. Both are checked on the drawn figures (text extents from matplotlib's renderer), for
the headline chart and the detail chart, whose K=1 panel holds eight contenders.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="the charts need matplotlib (pip install matplotlib)")

from benchmarks import chart, report
from benchmarks.ratios import NAMES

SPEED = {
    "sioadapter": 60_711.0,
    "sioadapter-rooms": 59_100.0,
    "socketio": 5_616.0,
    "node": 63_497.0,
    "raw-single": 7_878.0,
    "raw-pipelined": 75_133.0,
    "sioadapter-sync": 48_797.0,
    "socketio-sync": 6_237.0,
}
# Every contender of the suite (there may be more than the ones above): the K=1 panel's worst case.
SPEED.update({c: 20_000.0 + 1_000 * i for i, c in enumerate(NAMES) if c not in SPEED})
CPU = {"sioadapter": 0.137, "socketio": 0.934, "node": 0.0709}
P99 = {"sioadapter": 0.712, "socketio": 0.576, "node": 2.42}


def results() -> dict[str, Any]:
    """A run's results shaped as ``python -m benchmarks --json`` writes them (figures only)."""

    def rx(**fields: float) -> dict[str, Any]:
        return {"receiver": fields}

    k1 = {
        c: rx(broadcasts_per_s=v, span_broadcasts_per_s=v * 1.1, cpu_per_10k=CPU.get(c, 0.2))
        for c, v in SPEED.items()
    }
    three = list(CPU)
    data: dict[str, Any] = {
        "throughput_k1": k1,
        "throughput_k100": {
            c: rx(deliveries_per_s=SPEED[c] * 28, cpu_per_10k=CPU[c] * 4) for c in three
        },
        "drain_k1": {
            c: rx(span_broadcasts_per_s=SPEED[c] * 1.2, cpu_per_10k=CPU[c]) for c in three
        },
        "drain_k100": {c: rx(span_broadcasts_per_s=SPEED[c] / 3) for c in three},
        "idle": {
            c: {**rx(cpu_per_10k=CPU[c]), "bystander": {"cpu_per_10k": CPU[c] / 10}} for c in three
        },
        "idle_rate": {
            c: {**rx(cpu_per_10k=CPU[c] * 5), "bystander": {"cpu_per_10k": CPU[c]}} for c in three
        },
        "latency": {
            c: {"receiver": {"latency_ms": {"p50": P99[c] / 3, "p99": P99[c]}}} for c in three
        },
        "requests": {
            c: {op: {"p50": 1.0, "p99": 2.5} for op in ("fetch_sockets", "server_side_call")}
            for c in ("sioadapter", "node")
        },
    }
    machine = {"date": "2026-12-02 03:34 UTC", "nproc": 2, "cpu": "Test CPU"}
    return {"machine": machine, "results": data}


def label_boxes(fig: Any) -> list[list[Any]]:
    """Per panel, the window extents of its value labels (annotations)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [
        [text.get_window_extent(renderer) for text in ax.texts if text.get_text()]
        for ax in fig.axes
    ]


def overlapping(boxes: list[Any]) -> list[tuple[int, int]]:
    return [
        (i, j) for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2) if a.overlaps(b)
    ]


def test_the_headline_chart_writes_every_value_without_overlap(tmp_path: Path) -> None:
    fig = chart.headline_figure(results())
    panels = label_boxes(fig)
    assert [len(boxes) for boxes in panels] == [3] * len(chart.HEADLINE)
    assert all(overlapping(boxes) == [] for boxes in panels)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts[:3] == ["60.7k", "5.62k", "63.5k"]  # sioadapter first, then the baselines
    for ax in fig.axes:  # every label inside its panel
        width = ax.get_window_extent().x1
        assert all(box.x1 <= width for box in label_boxes(fig)[fig.axes.index(ax)])
    chart.headline(results(), tmp_path / "headline.png")
    assert (tmp_path / "headline.png").stat().st_size > 10_000


def test_the_detail_chart_labels_do_not_overlap_even_with_eight_contenders(
    tmp_path: Path,
) -> None:
    fig = chart.detail_figure(results())
    panels = label_boxes(fig)
    assert len(panels[0]) == 3 * len(NAMES)  # K=1: three groups of every contender
    for boxes in panels:
        assert overlapping(boxes) == []
    chart.chart(results(), tmp_path / "detail.png")
    assert (tmp_path / "detail.png").stat().st_size > 10_000


def test_compact_numbers() -> None:
    assert [chart.compact(v) for v in (60_711, 1_719_429, 0.137, 950, float("nan"))] == [
        "60.7k",
        "1.72M",
        "0.137",
        "950",
        "n/a",
    ]


def test_the_page_opens_with_the_headline_table_and_chart() -> None:
    data = results()
    head = report.headline(data, "benchmarks.png")
    assert head[0] == "## In short"
    text = "\n".join(head)
    assert "| Broadcasts/s from one server to another (K=1) (higher is better) |" in text
    assert "**60,711** | 5,616 (sioadapter: 10.8x) | 63,497 (sioadapter: 0.956x) |" in text
    assert text.endswith("![headline benchmark chart](benchmarks.png)")
