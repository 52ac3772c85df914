"""The rooms-and-sockets scaling family: its page part drawn from a small made-up result (the
sentences follow the figures: flat, linear, the extrapolated timeout; a failed contender and an
incomplete size give no figure), and a quick run of the family on a private Redis, which must
give every figure."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import scaling_rooms, scaling_rooms_report


def room(r: int, create_s: float, growth: float, cpu: float) -> dict[str, Any]:
    window = {"cpu_s": cpu * 0.4, "delivered": 0, "expected": 0, "complete": True}
    return {"rooms": r, "sockets": min(r, 100), "create_s": create_s,
            "rss_growth_mb": growth, "channels": 4, "n": 4000, "rate": 2000.0,
            "window": window, "cpu_per_10k": cpu}  # fmt: skip


def clients(k: int, rate: float, cpu_us: float, complete: bool = True) -> dict[str, Any]:
    return {"n": 100, "k": k, "complete": complete, "deliveries_per_s": rate,
            "cpu_us_per_delivery": cpu_us}  # fmt: skip


def fetch(ms: float, count_ms: float) -> dict[str, Any]:
    return {"calls": 5, "warmup": 1, "redis_in_bytes": int(ms * 1000),
            "fetch_sockets": {"n": 5, "p50": ms, "p99": ms * 2},
            "server_count": {"n": 5, "p50": count_ms, "p99": count_ms}}  # fmt: skip


def results() -> dict[str, Any]:
    sizes = (1, 100, 10_000)
    rooms = {
        # pattern mode: a flat cost for other rooms, memory linear in the rooms
        "sioadapter": {str(r): room(r, r * 1e-5, r / 1000, 0.5) for r in sizes},
        "sioadapter-rooms": {
            **{str(r): room(r, r * 3e-4, r / 500, 0.01) for r in sizes},
            "100000": {"skipped": True, "projected_s": 30.0},
        },
        "socketio": {str(r): room(r, r * 1e-5, r / 1000, 1.0) for r in sizes},
    }
    ks = (1, 100, 10_000)
    out = {
        "nproc": 2,
        "full": False,
        "rooms": {c: {"levels": v} for c, v in rooms.items()},
        "clients": {
            "sioadapter": {"levels": {str(k): clients(k, 1e4 * k**0.5, 10 / k**0.5) for k in ks}},
            "socketio": {
                "levels": {
                    "1": clients(1, 2000.0, 100.0),
                    "100": clients(100, 0.0, 5.0, complete=False),
                },
                "error": "receiver: no 'window' within 30 s\nTraceback",
            },
            "node": {"levels": {}, "error": "node exited"},
        },
        "fetch": {
            "sioadapter": {
                "levels": {
                    **{str(t): fetch(t / 100, 0.2) for t in (100, 1_000, 10_000)},
                    "100000": {"skipped": True, "projected_s": 12.0},
                }
            },
            "node": {"levels": {"100": fetch(2.0, 0.1), "1000": fetch(200.0, 0.1)}},
        },
    }
    return {"results": {scaling_rooms.KEY: out}}


def test_the_sentences_follow_the_figures_and_bad_cases_give_none(tmp_path: Path) -> None:
    page = "\n".join(scaling_rooms.sections(results()))
    lines = page.splitlines()
    line = next(x for x in lines if x.startswith("- sioadapter, 1 to 10,000 rooms"))
    assert "creating them grows about linearly" in line
    assert "RSS growth grows about linearly (0.1 to 10: x100 for x100) MB" in line
    assert "CPU per 10,000 broadcasts for another room stays flat (0.5 to 0.5" in line
    assert (
        "- sioadapter, dynamic-private, 100,000 rooms: not run, creating them projected at 30"
        in page
    )
    assert "| sioadapter, dynamic-private | 100,000 |  | skipped: 30 s projected |" in page
    line = next(x for x in lines if x.startswith("- At 10,000 rooms, dynamic-private"))
    assert "spends 0.02 of sioadapter's CPU" in line and "x30 its time" in line
    assert "(one SUBSCRIBE each: 3,333 rooms/s)" in line
    assert "| sioadapter, dynamic-private | 10,000 | 100 | 3 | 300 | 20 | 2.05 | 4 | 0.01 |" in page
    line = next(x for x in lines if x.startswith("- sioadapter, K=1 to 10,000"))
    assert "deliveries/s grows less than linearly (10,000 to 1,000,000: x100 for x10,000)" in line
    assert "the most, 1,000,000 deliveries/s, at K=10,000" in line
    assert "| python-socketio AsyncRedisManager | 100 | 100 | n/a | n/a | incomplete |" in page
    assert "- python-socketio AsyncRedisManager failed after the sizes shown: `receiver: no" in page
    assert "- Node @socket.io/redis-adapter failed after the sizes shown: `node exited`" in page
    line = next(x for x in lines if x.startswith("- sioadapter, 100 to 10,000 sockets"))
    assert "fetch_sockets' median grows about linearly (1 to 100: x100 for x100) ms" in line
    assert "server_count's stays flat" in line
    assert "(exponent 1 from 1,000 to 10,000: 1 is linear, 2 quadratic)" in line
    # 100,000 bytes in over 6 calls answering 5,000 sockets each: 3.33 bytes a socket
    assert "- sioadapter: about 3.33 bytes of answer a socket, so a node's answer" in page
    assert "(the default `max_message_size`, past which it is not sent and the request" in page
    assert "times out) near 314,573 sockets on that node." in page
    assert (
        "- Node @socket.io/redis-adapter: about 66.7 bytes of answer a socket (the adapter" in page
    )
    assert "reaches the default 5 s requests timeout near 500,000 sockets" in line
    assert "- sioadapter, 100,000 sockets: not run, one fetch_sockets() projected at 12 s" in page
    assert "| sioadapter | 100,000 | skipped: 12 s projected |" in page
    # quadratic: 2 ms at 100, 200 ms at 1,000; 5 s at 1,000 * sqrt(25) = 5,000
    line = next(x for x in lines if x.startswith("- Node @socket.io/redis-adapter, 100 to"))
    assert "(exponent 2 from 100 to 1,000" in line and "timeout near 5,000 sockets" in line
    assert "| Node @socket.io/redis-adapter | 1,000 | 200 | 400 | 200 | 0.1 | 0.1 | 5 |" in page
    assert scaling_rooms.sections({"results": {}}) == []
    assert math.isnan(scaling_rooms_report.deliveries(clients(1, 5.0, 1.0, complete=False)))
    pytest.importorskip("matplotlib", reason="the chart needs matplotlib")
    scaling_rooms.draw(results(), tmp_path / "rooms.png")
    assert (tmp_path / "rooms.png").stat().st_size > 10_000


def test_calls_fit_the_budget_and_a_size_past_it_is_skipped() -> None:
    assert scaling_rooms.calls_for({}, 100, 5, 3.0) == {"warmup": 1, "calls": 5}
    done = {"100": fetch(10.0, 0.1), "1000": fetch(1000.0, 0.1)}  # quadratic: x100 for x10
    assert scaling_rooms.calls_for(done, 10_000, 5, 300.0) == {"warmup": 1, "calls": 2}
    assert scaling_rooms.calls_for(done, 10_000, 5, 150.0) == {"warmup": 0, "calls": 1}
    skipped = scaling_rooms.calls_for(done, 10_000, 5, 50.0)
    assert skipped["skipped"] and skipped["projected_s"] == pytest.approx(100.0)


def check_quick_run(out: dict[str, Any]) -> None:
    """What a quick run's results must hold: every contender's every size, complete."""
    assert not out["full"]
    for part, contenders in scaling_rooms.PARTS.items():
        for contender in contenders:
            dim = out[part][contender]
            assert "error" not in dim, (part, contender, dim["error"])
            assert len(dim["levels"]) >= 2, (part, contender)
            for size, case in dim["levels"].items():
                if part == "rooms":
                    assert scaling_rooms_report.room_cpu(case) > 0, (contender, size, case)
                    assert case["create_s"] > 0 and case["rss_growth_mb"] >= 0
                elif part == "clients":
                    assert scaling_rooms_report.deliveries(case) > 0, (contender, size, case)
                    assert scaling_rooms_report.delivery_cpu(case) > 0
                else:
                    assert scaling_rooms_report.call_ms(case, "fetch_sockets", "p99") > 0
                    assert scaling_rooms_report.call_ms(case, "server_count") > 0
    page = "\n".join(scaling_rooms.sections({"results": {scaling_rooms.KEY: out}}))
    assert "n/a" not in page and "failed" not in page
