"""The receiver under load: signed webhooks at a steady rate plus a flood of forged ones.

    .venv/bin/python benchmarks/receiver_load.py [--rate 3000] [--seconds 60] [--flood-workers 4] [--port 8780]

Starts `sync-pipeline receiver` as its own process on 127.0.0.1 (a fresh data dir), sends
`--rate` signed `orders/updated` webhooks a minute for `--seconds`, while `--flood-workers`
loops send forged webhooks (bad HMAC) as fast as they can for the same time. Prints: signed
webhooks accepted and found in the inbox; answer-time percentiles of the signed ones against
Shopify's 5 s limit; forged requests refused and the size of `rejected.jsonl`; the receiver's
RSS at start, end and peak. Bounded: stops after `--seconds` (+ a drain of at most 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.shopify import sign_webhook
from sync_pipeline.rehearsal.stack import BIN, CALLBACK_TOKEN, WEBHOOK_SECRET, log, percentile

SHOP_DOMAIN = "bench-store.myshopify.com"  # the receiver's SHOPIFY_SHOP_DOMAIN; every signed webhook names it

SHOPIFY_LIMIT_SECONDS = 5.0


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of `pid` in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def webhook(i: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"id": 5_000_000 + i, "admin_graphql_api_id": f"gid://shopify/Order/{5_000_000 + i}", "name": f"#{i}",
         "updated_at": "2026-11-27T10:00:00Z", "line_items": [{"sku": "TEE-M", "quantity": 1}] * 3},
    ).encode()  # fmt: skip
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Webhook-Id": f"bench-{i}",
        "X-Shopify-Event-Id": f"evt-{i}",
        "X-Shopify-Hmac-SHA256": sign_webhook(body, WEBHOOK_SECRET),
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
    }
    return body, headers


async def signed_sender(url: str, rate_per_min: int, seconds: float) -> tuple[list[float], int, int, int]:
    """(answer times, sent, non-200 answers, still unanswered at the drain timeout)."""
    latencies: list[float] = []
    failures = 0
    interval = 60.0 / rate_per_min
    total = int(seconds / interval)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(i: int) -> None:
            nonlocal failures
            body, headers = webhook(i)
            started = time.perf_counter()
            try:
                answer = await client.post(f"{url}/webhooks/shopify", content=body, headers=headers)
                if answer.status_code != 200:
                    failures += 1
            except httpx.HTTPError:
                failures += 1
            latencies.append(time.perf_counter() - started)

        start = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        # A machine too loaded to answer them all in time is a result to print, not a crash.
        _, pending = await asyncio.wait(tasks, timeout=30 + seconds) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return latencies, total, failures, len(pending)


async def flood(url: str, workers: int, seconds: float) -> int:
    sent = 0
    deadline = time.perf_counter() + seconds
    body = b'{"id": 1, "note": "forged"}'
    async with httpx.AsyncClient(timeout=30) as client:

        async def loop(w: int) -> None:
            nonlocal sent
            i = 0
            while time.perf_counter() < deadline:
                i += 1
                headers = {"X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": f"forged-{w}-{i}",
                           "X-Shopify-Hmac-SHA256": "Zm9yZ2VkLXNpZ25hdHVyZQ=="}  # fmt: skip
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(f"{url}/webhooks/shopify", content=body, headers=headers)
                sent += 1

        await asyncio.gather(*(loop(w) for w in range(workers)))
    return sent


async def sample_memory(pid: int, stop: asyncio.Event, samples: list[float]) -> None:
    while not stop.is_set():
        samples.append(rss_mb(pid)[0])
        await asyncio.sleep(1.0)


async def run(url: str, pid: int, args: argparse.Namespace) -> dict[str, object]:
    stop = asyncio.Event()
    samples: list[float] = []
    sampler = asyncio.create_task(sample_memory(pid, stop, samples))
    (latencies, total, failures, unanswered), forged = await asyncio.gather(
        signed_sender(url, args.rate, args.seconds), flood(url, args.flood_workers, args.seconds)
    )
    stop.set()
    await sampler
    return {"latencies": latencies, "total": total, "failures": failures, "unanswered": unanswered,
            "forged": forged, "rss": samples}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=3000, help="signed webhooks per minute")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--flood-workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8780)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="receiver-load-"))
    env = {
        **os.environ,
        "SYNC_DATA_DIR": str(data_dir),
        "SYNC_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "SHOPIFY_SHOP_URL": "http://127.0.0.1:1",  # never called by the receiver
        "SHOPIFY_ACCESS_TOKEN": "unused",
        "SHOPIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SHOPIFY_SHOP_DOMAIN": SHOP_DOMAIN,
    }
    receiver = subprocess.Popen(
        [str(BIN / "sync-pipeline"), "receiver", "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if receiver.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("receiver did not start") from None
                time.sleep(0.2)
        rss_start, _ = rss_mb(receiver.pid)
        log(f"receiver up (pid {receiver.pid}, RSS {rss_start:.1f} MB); {args.rate}/min signed for {args.seconds:.0f} s "
            f"+ {args.flood_workers} forged-flood workers")  # fmt: skip
        result = asyncio.run(run(url, receiver.pid, args))
        rss_end, rss_peak = rss_mb(receiver.pid)
    finally:
        receiver.terminate()
        receiver.wait(timeout=20)

    inbox_files = Inbox(data_dir / "inbox").since("shopify")
    rejected = data_dir / "inbox" / "rejected.jsonl"
    rejected_files = [rejected, *rejected.parent.glob("rejected.jsonl.*")]
    rejected_lines = [
        json.loads(line) for f in rejected_files if f.exists() for line in f.read_text().splitlines()
    ]
    counted = sum(line.get("repeated", 1) for line in rejected_lines)
    latencies = sorted(result["latencies"])  # type: ignore[arg-type]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    elapsed_rate = len(latencies) / args.seconds * 60
    print()
    print(
        f"signed webhooks sent      {result['total']:>8,}  ({elapsed_rate:,.0f}/min), non-200 answers {result['failures']}, "
        f"unanswered after the drain {result['unanswered']}"
    )
    print(
        f"  in the inbox            {len(inbox_files):>8,}  ({len(inbox_files) / max(1, result['total']):.1%} of sent)"
    )  # type: ignore[operator]
    print(f"  answer p50 / p99 / max  {p50 * 1000:>8.1f} / {p99 * 1000:.1f} / {latencies[-1] * 1000:.1f} ms"  # type: ignore[operator]
          f"  (p99 = {p99 / SHOPIFY_LIMIT_SECONDS:.2%} of Shopify's 5 s)")  # type: ignore[operator]  # fmt: skip
    print(f"forged webhooks sent      {result['forged']:>8,}  ({result['forged'] / args.seconds:,.0f}/s)")  # type: ignore[operator]
    print(f"  rejected.jsonl          {len(rejected_lines):>8,} lines, {sum(f.stat().st_size for f in rejected_files if f.exists()):,} bytes;"
          f" refusals counted {counted:,} ({counted / max(1, result['forged']):.1%} of forged)")  # type: ignore[operator]  # fmt: skip
    rss = result["rss"]
    print(f"receiver RSS              start {rss_start:.1f} MB, end {rss_end:.1f} MB, peak {rss_peak:.1f} MB "  # type: ignore[index]
          f"(end/start {rss_end / rss_start:.2f}; sampled min {min(rss):.1f}, max {max(rss):.1f})")  # type: ignore[arg-type]  # fmt: skip
    print(f"load average (1 min)      {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
