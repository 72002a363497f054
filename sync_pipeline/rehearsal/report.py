"""The rehearsal's figures, per flow, and the same as markdown and JSON.

Pure: everything is computed from what `collect.observe` read and the peak recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sync_pipeline.lib.ledger.rehearsal import Fulfilled
from sync_pipeline.rehearsal.accounting import KINDS, Accounting
from sync_pipeline.rehearsal.cpu import markdown_lines as cpu_lines
from sync_pipeline.rehearsal.deliveries import markdown_lines as delivery_lines
from sync_pipeline.rehearsal.ledger_lock import markdown_lines as ledger_lines
from sync_pipeline.rehearsal.profile import StoreProfile
from sync_pipeline.rehearsal.pvx_requests import by_flow
from sync_pipeline.rehearsal.stack import percentile, rounded, spread
from sync_pipeline.sandbox.shopify.config import PLANS
from sync_pipeline.sandbox.shopify.control import points_by_operation

GOALS = {
    "orders_p95_beyond_hold_s": 60.0,
    "orders_share_of_limiter_ceiling": 0.9,
    "despatch_p95_s": 60.0,
    "stock_p95_s": 30.0,
    "throttled_share": 0.01,
}


def _delta(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, float]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if isinstance(after.get(k), int | float)}


def per_minute(count: int, start: datetime | None, end: datetime | None) -> float | None:
    if not count or start is None or end is None or end <= start:
        return None
    return count / ((end - start).total_seconds() / 60)


def despatch_timings(
    packages: Mapping[str, tuple[str, datetime]], fulfilled_at: Mapping[str, Fulfilled]
) -> tuple[list[float], list[tuple[datetime, datetime]], int]:
    """(seconds from each package's despatch to the ledger recording the Shopify fulfilment that
    stands for it, (despatched, created) of each package with a fulfilment of its own, how many were
    pooled parcels carried by another's). A pooled parcel is timed at its carrier's fulfilment and
    counts in the latency, not in the rate and points per fulfilment: it makes none in Shopify."""
    latency, made, pooled = [], [], 0
    for package_number, despatched_at in packages.values():
        done = fulfilled_at.get(package_number)
        if done is None:
            continue
        latency.append((done.at - despatched_at).total_seconds())
        if done.carried_by is None:
            made.append((despatched_at, done.at))
        else:
            pooled += 1
    return latency, made, pooled


def floor_at_ceiling(arrivals: list[datetime], per_second: float | None, burst: float = 1.0) -> float | None:
    """The p95 latency no product could beat within the API budget, spending what this run spent
    per item: items served in arrival order from a bucket that starts full with `burst` items and
    refills at `per_second` (Shopify's bucket ÷ points an item; the Peoplevox window's requests ÷
    requests an item), none before it arrives. When arrivals outpace the refill for longer than
    the bucket lasts, the queue, and this floor, grow with them; when they do not, it is 0. The
    gap between it and the measured p95 is the product's own (run start-up, CPU, the ledger)."""
    if not arrivals or not per_second:
        return None
    capacity = max(1.0, burst)
    tokens, clock, waits = capacity, 0.0, []
    start = min(arrivals)
    for moment in sorted(arrivals):
        at = (moment - start).total_seconds()
        served = max(at, clock)  # in arrival order: never before the one ahead of it
        tokens = min(capacity, tokens + (served - clock) * per_second)
        if tokens < 1.0:
            served += (1.0 - tokens) / per_second
            tokens = 1.0
        tokens -= 1.0
        clock = served
        waits.append(served - at)
    return percentile(waits, 95)


def figures(
    profile: StoreProfile,
    *,
    owed_numbers: set[str],
    timings: list[Any],
    packages: Mapping[str, tuple[str, datetime]],
    fulfilled_at: Mapping[str, Fulfilled],
    stock_latencies: list[float],
    stock_unseen: int,
    shop_stats: Mapping[str, Any],
    shop_before: Mapping[str, Any],
    pvx_counters: Mapping[str, Any],
    pvx_before: Mapping[str, Any],
    peak_seconds: float,
    runs: Mapping[str, Any],
    accounting: Accounting,
    oversell: Mapping[str, Any],
    sale: Mapping[str, Any],
    faults: list[dict[str, Any]],
    load_average: list[float],
    drained: bool,
    cpu: Mapping[str, Any] | None = None,
    ledger: Mapping[str, Any] | None = None,
    deliveries: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    hold = profile.hold_seconds
    rps = profile.pvx_requests_per_window / profile.pvx_window_seconds
    bucket, restore = PLANS[profile.shopify_plan]

    # Orders: paid (first seen paid by the ledger) → accepted by Peoplevox, minus the hold.
    done = [t for t in timings if t.sales_order_number in owed_numbers and t.confirmed_at and t.paid_seen_at]
    order_latency = [(t.confirmed_at - t.paid_seen_at).total_seconds() - hold for t in done]
    release_wait = [(t.first_attempt_at - t.release_due_at).total_seconds() for t in done
                    if t.first_attempt_at and t.release_due_at]  # fmt: skip
    ingest_delay = [(t.first_seen_at - t.paid_seen_at).total_seconds() for t in done if t.first_seen_at]
    orders_rate = per_minute(len(done), min((t.paid_seen_at for t in done), default=None),
                             max((t.confirmed_at for t in done), default=None))  # fmt: skip
    requests = _delta(pvx_counters.get("requests", {}), pvx_before.get("requests", {}))
    requests_by_name = _delta(
        pvx_counters.get("requests_by_name", {}), pvx_before.get("requests_by_name", {})
    )
    total_requests = sum(requests.values())
    per_order = total_requests / len(done) if done else None
    ceiling = rps * 60 / per_order if per_order else None
    # The orders flow's own requests (saves, status reads): what the limiter allows it alone.
    own = by_flow(requests_by_name, 1.0).get("orders", {}).get("requests") or 0
    own_per_second = rps * len(done) / own if own and done else None
    own_burst = profile.pvx_requests_per_window * len(done) / own if own and done else 1.0
    due = [t.release_due_at for t in done if t.release_due_at]

    despatch_latency, made, pooled = despatch_timings(packages, fulfilled_at)
    fulfil_rate = per_minute(
        len(made), min((a for a, _ in made), default=None), max((b for _, b in made), default=None)
    )
    despatched = [a for a, _ in made]
    despatch_rate = per_minute(len(made), min(despatched, default=None), max(despatched, default=None))
    shop = _delta(shop_stats, shop_before)
    points_by_op = {op: v for op, v in points_by_operation(shop).items() if v}
    fulfil_points = sum(v for k, v in points_by_op.items() if "ulfil" in k)
    points_per_fulfilment = fulfil_points / len(made) if made else None
    fulfil_ceiling = restore / points_per_fulfilment if points_per_fulfilment else None  # per second
    shopify_requests = shop.get("requests", 0)
    throttled_share = shop.get("throttled", 0) / shopify_requests if shopify_requests else 0.0

    cpu_figures = dict(cpu or {})
    if cpu_figures.get("product_core_s") is not None and profile.sale_seconds:
        cpu_figures["sale_s"] = profile.sale_seconds
        cpu_figures["product_cores_to_keep_pace"] = round(
            cpu_figures["product_core_s"] / profile.sale_seconds, 2
        )
    out = {
        "profile": profile.model_dump(exclude={"faults"}),
        "machine": {"cpus": os.cpu_count(), "load_average_1m": [round(x, 1) for x in load_average]},
        "cpu": cpu_figures,
        "ledger": dict(ledger or {}),
        "deliveries": dict(deliveries or {}),
        "drained": drained,
        "peak_seconds": round(peak_seconds, 1),
        "sale": dict(sale),
        "orders": {
            "latency_beyond_hold_s": spread(order_latency),
            "paid_to_first_seen_s": spread(ingest_delay),
            "due_to_first_save_s": spread(release_wait),
            "sustained_per_minute": rounded(orders_rate),
            "limiter_ceiling_per_minute": rounded(ceiling),
            "share_of_limiter_ceiling": rounded(
                orders_rate / ceiling if orders_rate and ceiling else None, 3
            ),
            "pvx_requests_per_order": rounded(per_order, 3),
            "p95_floor_at_own_limiter_share_s": rounded(floor_at_ceiling(due, own_per_second, own_burst)),
        },
        "despatches": {
            "latency_s": spread(despatch_latency),
            "packages": len(packages),
            "not_fulfilled": len(packages) - len(despatch_latency),
            "pooled_carried": pooled,
            "fulfilled_per_minute": rounded(fulfil_rate),
            "shopify_points_per_fulfilment": rounded(points_per_fulfilment),
            "shopify_ceiling_per_minute": rounded(
                restore / points_per_fulfilment * 60 if points_per_fulfilment else None
            ),
            "share_of_shopify_ceiling": rounded(
                fulfil_rate / (restore / points_per_fulfilment * 60)
                if fulfil_rate and points_per_fulfilment
                else None,
                3,
            ),
            "despatched_per_minute": rounded(despatch_rate),
            "despatched_over_shopify_ceiling": rounded(
                despatch_rate / (fulfil_ceiling * 60) if despatch_rate and fulfil_ceiling else None, 3
            ),
            "p95_floor_at_shopify_ceiling_s": rounded(
                floor_at_ceiling(
                    despatched,
                    fulfil_ceiling,
                    bucket / points_per_fulfilment if points_per_fulfilment else 1.0,
                )
            ),
        },
        "stock": {
            "latency_s": spread(stock_latencies),
            "changes_not_seen": stock_unseen,
            "oversell": dict(oversell),
        },
        "shopify": {
            "plan": profile.shopify_plan,
            "requests": shopify_requests,
            "points_spent": round(shop.get("points_spent", 0)),
            "budget_used": rounded(
                shop.get("points_spent", 0) / (restore * peak_seconds) if peak_seconds else None, 3
            ),
            "throttled": shop.get("throttled", 0),
            "throttled_share": round(throttled_share, 4),
            "rate_limited_429": shop.get("rate_limited", 0),
            "points_by_operation": dict(sorted(points_by_op.items(), key=lambda kv: -kv[1])[:8]),
        },
        "peoplevox": {
            "requests": total_requests,
            "limiter_capacity": round(rps * peak_seconds),
            "share_of_limiter": rounded(total_requests / (rps * peak_seconds) if peak_seconds else None, 3),
            "refused_by_limiter": pvx_counters.get("limiter_refused", 0)
            - pvx_before.get("limiter_refused", 0),
            "requests_by_operation": {k: v for k, v in sorted(requests.items()) if v},
            "requests_by_flow": by_flow(requests_by_name, rps * peak_seconds),
            "requests_by_name": {
                k: v for k, v in sorted(requests_by_name.items(), key=lambda kv: -kv[1]) if v
            },
        },
        "runs": dict(runs),
        "faults": faults,
        "faults_without_effect": [x["fault"] for x in faults if x.get("effects") == 0],
        "lost": accounting.lost,
        "duplicated": accounting.duplicated,
        "examples": {k: list(t.examples) for k, t in accounting.tallies.items() if t.examples},
    }
    out["goals"] = goals(out)
    out["limits"] = limits(out)
    return out


def limits(f: Mapping[str, Any]) -> dict[str, Any]:
    """How near each shared ceiling the peak ran: the machine's CPU, Shopify's restore rate, the
    Peoplevox limiter, the ledger's lock (one transaction at a time across every process). The
    nearest is the one that binds when a flow misses its goal with the others far from theirs."""
    used = {
        "CPU (machine busy)": (f.get("cpu") or {}).get("busy_share"),
        "Ledger (lock held ÷ peak)": (f.get("ledger") or {}).get("held_share"),
        "Shopify (points ÷ restore rate)": f["shopify"]["budget_used"],
        "Peoplevox (requests ÷ limiter)": f["peoplevox"]["share_of_limiter"],
    }
    known = {k: v for k, v in used.items() if v is not None}
    return {"used": used, "nearest": max(known, key=lambda k: known[k]) if known else None}


def goals(f: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    def check(value: float | None, goal: float, at_least: bool = False) -> dict[str, Any]:
        met = value is not None and (value >= goal if at_least else value <= goal)
        return {"value": value, "goal": goal, "met": met}

    return {
        "orders p95 beyond hold ≤ 60 s": check(f["orders"]["latency_beyond_hold_s"]["p95"], GOALS["orders_p95_beyond_hold_s"]),
        "orders ≥ 0.9 of limiter ceiling": check(f["orders"]["share_of_limiter_ceiling"],
                                                 GOALS["orders_share_of_limiter_ceiling"], at_least=True),
        "despatch → fulfilled p95 ≤ 60 s": check(f["despatches"]["latency_s"]["p95"], GOALS["despatch_p95_s"]),
        "stock change → Shopify p95 ≤ 30 s": check(f["stock"]["latency_s"]["p95"], GOALS["stock_p95_s"]),
        "THROTTLED ≤ 1 %": check(f["shopify"]["throttled_share"], GOALS["throttled_share"]),
        "0 lost": check(sum(f["lost"].values()), 0),
        "0 duplicated": check(sum(f["duplicated"].values()), 0),
        "no oversell": check(f["stock"]["oversell"].get("violations", 0), 0),
    }  # fmt: skip


def _s(spread_: Mapping[str, Any]) -> str:
    def v(x: float | None) -> str:
        return "n/a" if x is None else f"{x:,.1f} s"

    return f"p50 {v(spread_['p50'])} · p95 {v(spread_['p95'])} · max {v(spread_['max'])} (n={spread_['n']:,})"


def markdown(f: Mapping[str, Any], command: str) -> str:
    p, o, d, s, sh, pv = f["profile"], f["orders"], f["despatches"], f["stock"], f["shopify"], f["peoplevox"]
    lines = [
        f"# Rehearsal {f.get('started_at', '')}",
        "",
        f"`{command}`",
        "",
        f"Shopify {p['shopify_plan']}; Peoplevox {p['pvx_requests_per_window']} requests / {p['pvx_window_seconds']:g} s;"
        f" hold {p['hold_seconds']} s; cut-off {p['cutoff_status']}; {p['catalogue_size']} SKUs;"
        f" {p['orders_per_minute']:g} orders/min for {p['minutes']:g} min. Machine: {f['machine']['cpus']} CPUs,"
        f" load average {f['machine']['load_average_1m']} (start, end).",
        f"Sale: {f['sale'].get('placed', 0):,} placed ({f['sale'].get('errors', 0)} errors), follow-ups"
        f" {f['sale'].get('follow_ups', {})}; peak {f['peak_seconds']:,.0f} s;"
        f" {'caught up' if f['drained'] else '**not caught up by the drain timeout: the lost counts include effects still on their way**'}.",
        "",
        "| flow | latency | throughput | budget |",
        "|---|---|---|---|",
        f"| orders (paid → in Peoplevox − hold) | {_s(o['latency_beyond_hold_s'])} | {o['sustained_per_minute']}/min ="
        f" {o['share_of_limiter_ceiling']} of the limiter ceiling ({o['limiter_ceiling_per_minute']}/min at"
        f" {o['pvx_requests_per_order']} requests/order) | Peoplevox {pv['requests']:,} requests ="
        f" {pv['share_of_limiter']} of the limiter, {pv['refused_by_limiter']} refused |",
        f"| despatches (despatch → fulfilled) | {_s(d['latency_s'])} | {d['fulfilled_per_minute']}/min ="
        f" {d['share_of_shopify_ceiling']} of Shopify's ceiling ({d['shopify_ceiling_per_minute']}/min at"
        f" {d['shopify_points_per_fulfilment']} points/fulfilment) | Shopify {sh['points_spent']:,} points ="
        f" {sh['budget_used']} of the restore rate; THROTTLED {sh['throttled_share']:.2%} of {sh['requests']:,} |",
        f"| stock (change → Shopify shows it) | {_s(s['latency_s'])} | {s['changes_not_seen']} not seen |"
        f" oversell: {s['oversell'].get('violations', 0)} violations in {s['oversell'].get('samples', 0)} samples |",
        "",
        f"Orders detail: paid → first seen {_s(o['paid_to_first_seen_s'])}; due → first save {_s(o['due_to_first_save_s'])};"
        f" the p95 no product could beat with the orders flow's own Peoplevox requests at the limiter's pace:"
        f" {o.get('p95_floor_at_own_limiter_share_s')} s.",
        f"Despatches detail: {d['packages']:,} packages, {d.get('pooled_carried', 0):,} of them pooled parcels carried"
        f" by another's fulfilment (timed at it), {d.get('not_fulfilled', 0):,} not fulfilled; despatched at"
        f" {d.get('despatched_per_minute')}/min = {d.get('despatched_over_shopify_ceiling')} of Shopify's ceiling, so"
        f" the p95 no product could beat at {d['shopify_points_per_fulfilment']} points a fulfilment is"
        f" {d.get('p95_floor_at_shopify_ceiling_s')} s.",
        f"Peoplevox requests by operation: {pv['requests_by_operation']}.",
        "Peoplevox requests by flow (÷ the limiter over the peak): "
        + (
            "; ".join(
                f"{k} {v['requests']:,} = {v['share_of_limiter']}" for k, v in pv["requests_by_flow"].items()
            )
            or "none"
        )
        + f". By report and template: {pv['requests_by_name']}.",
        f"Shopify points by operation: {sh['points_by_operation']}.",
        "",
        "| effect | lost | duplicated |",
        "|---|---|---|",
        *(f"| {k} | {f['lost'][k]} | {f['duplicated'][k]} |" for k in KINDS),
        "",
        "| goal | value | met |",
        "|---|---|---|",
        *(f"| {k} | {g['value']} | {'yes' if g['met'] else '**no**'} |" for k, g in f["goals"].items()),
        "",
        "| job | runs | by status | mean creation → start | mean run |",
        "|---|---|---|---|---|",
        *(
            f"| {job} | {r['launched']} | {r['by_status']} | {r['mean_start_delay_s']} s | {r['mean_run_s']} s |"
            for job, r in f["runs"].items()
        ),
        "",
        *cpu_lines(f.get("cpu") or {}),
        "",
        *ledger_lines(f.get("ledger") or {}),
        "",
        *delivery_lines(f.get("deliveries") or {}),
        "",
        "Shared ceilings over the peak: "
        + "; ".join(f"{k} {v}" for k, v in f["limits"]["used"].items())
        + f"; nearest its ceiling: **{f['limits']['nearest']}**.",
        "",
        "Faults: " + ("; ".join(fault_line(x) for x in f["faults"]) or "none") + ".",
    ]
    if f["examples"]:
        lines += ["", "Examples: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in f["examples"].items())]
    return "\n".join(lines) + "\n"


def fault_line(x: Mapping[str, Any]) -> str:
    """One scheduled fault, what was done and what it did; one that did nothing says so."""
    said = f"{x['at']}s {x['fault']}: {x['what']}"
    if x.get("effects") is None:
        return said + (" → not counted (the sandbox did not answer)" if "effect" in x else "")
    return said + (f" → {x['effects']} {x['effect']}" if x["had_effect"] else " → **no effect**")


def write(f: Mapping[str, Any], command: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"rehearsal-{f.get('started_at', 'run').replace(':', '')}"
    md, js = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
    md.write_text(markdown(f, command), encoding="utf-8")
    js.write_text(json.dumps(f, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return md, js
