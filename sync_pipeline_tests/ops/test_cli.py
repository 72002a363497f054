"""`sync-pipeline exceptions`, `trace`, `resend` against a real ledger file."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from sync_pipeline.cli import main
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import LineRow
from sync_pipeline_tests.ops import world

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    world.build(tmp_path)
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SYNC_CONFIG_DIR", str(REPO_ROOT / "data" / "config"))
    return tmp_path


def test_exceptions_ranked_in_a_terminal_and_as_json(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exceptions"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert "injection_failed" in lines[0] and "#1002" in lines[0] and " P1 " in lines[0]
    assert main(["exceptions", "--owner", "cx", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["owner"] for r in rows} == {"cx"} and rows == sorted(rows, key=lambda r: -r["impact"])
    # The list only reads: a cleared exception is closed by ops/exceptions, not by looking.
    assert any(r["kind"] == "bad_address" for r in rows)


def test_a_person_resolves_what_only_a_person_can(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = Ledger(data_dir / "ledger.duckdb")
    [cutoff] = ledger.list_open_exceptions("change_after_cutoff")
    assert (
        main(
            [
                "exceptions",
                "resolve",
                str(cutoff.exception_id),
                "--by",
                "sam",
                "--note",
                "warehouse re-labelled",
            ]
        )
        == 0
    )
    assert ledger.list_open_exceptions("change_after_cutoff") == []
    trail = ledger.events_for(world.order_id(1004))
    assert trail[-1]["actor"] == "person:sam" and "warehouse re-labelled" in trail[-1]["reason"]
    assert main(["exceptions", "resolve", str(cutoff.exception_id), "--note", "again"]) == 1
    assert "already resolved" in capsys.readouterr().err


@pytest.mark.parametrize("reference", ["#1002", "1002", "gid://shopify/Order/1002", "SHP-1002"])
def test_trace_accepts_every_way_of_naming_an_order(
    data_dir: Path, reference: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", reference]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#1002  gid://shopify/Order/1002  2400.00 GBP  B2B Acme Ltd")
    assert "injection_failed opened for warehouse_ops" in out and "open exceptions:" in out
    # Peoplevox's text reaches the terminal without control characters.
    assert "\x1b" not in out


def test_trace_json_and_unknown_orders(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "#1004", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["packages"][0]["package_number"] == "DES9"
    assert [m["area"] for m in record["timeline"]].count("exception") == 2
    assert main(["trace", "#9999"]) == 1
    assert "no order in the ledger matches '#9999'" in capsys.readouterr().err


def test_trace_shows_refunds_and_returns(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "SHP-1004"]) == 0
    out = capsys.readouterr().out
    timeline = [line for line in out.splitlines() if line[:2] == "20"]
    areas = [line.split()[2] for line in timeline]
    # In time order: the Shopify return, the refund, then the warehouse's two returns.
    assert [a for a in areas if a in ("refund", "return")] == ["return", "refund", "return", "return"], out
    refund = timeline[areas.index("refund")]
    assert "refunded 46.00 EUR (40.00 GBP): 1 × TEE RETURN; note: =cmd" in refund
    assert "\x1b" not in out  # the customer's note does not clear a person's screen
    assert "Shopify return #1004-R1 of 2 unit(s), now OPEN" in out
    assert "warehouse processed return RET-1: 1 × TEE Reusable (back on sale); reason: Changed mind" in out
    assert "warehouse processed return RET-2: 1 × TEE Not reusable (written off); reason: Damaged" in out

    assert main(["trace", "#1004", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    [refund_row] = record["refunds"]
    assert (refund_row["p_total_refunded"], refund_row["currency"], refund_row["total_refunded"]) == (
        "46.00",
        "EUR",
        "40.00",
    )
    assert refund_row["lines"] == [{"sku": "TEE", "quantity": 1, "restock_type": "RETURN"}]
    assert [r["status"] for r in record["returns"]] == ["OPEN"]
    assert [(r["return_code"], r["reusable"]) for r in record["warehouse_returns"]] == [
        ("RET-1", True),
        ("RET-2", False),
    ]
    assert [m["area"] for m in record["timeline"]].count("return") == 3
    # An order the finance flow has not read yet has none of them.
    assert main(["trace", "#1001", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["refunds"] == record["returns"] == record["warehouse_returns"] == []


def test_trace_prints_no_terminal_control_from_any_field(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A B2B company name and a SKU are text someone else typed: neither may move the cursor, retitle
    the window or clear a person's screen."""
    ledger = Ledger(data_dir / "ledger.duckdb")
    hostile = world.order(1009, state.HELD, "10.00", 1, b2b=True)
    hostile = dataclasses.replace(hostile, snapshot={"b2b_company": "Evil\x1b]0;pwned\x07 Co\x1b[2J"})
    with ledger.transaction() as con:
        ledger_orders.upsert(con, [hostile])
        ledger_orders.replace_lines(
            con, [world.order_id(1009)],
            [LineRow(world.order_id(1009), "l1", "TEE\x1b[31m-RED", 1, True, False, Decimal("10.00"), None)],
        )  # fmt: skip
    assert main(["trace", "#1009"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out, out
    assert "B2B Evil]0;pwned Co[2J" in out and "1 × TEE[31m-RED" in out


def test_resend_puts_a_refused_order_back_and_refuses_the_rest(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger(data_dir / "ledger.duckdb")
    assert main(["resend", "#1004", "--note", "try"]) == 1  # in the warehouse already
    assert "only orders Peoplevox refused" in capsys.readouterr().out
    assert main(["resend", "SHP-1002", "--by", "kim", "--note", "service type fixed"]) == 0
    with ledger.transaction() as con:
        row = con.execute(
            "SELECT state, release_due_at IS NOT NULL FROM orders WHERE order_name = '#1002'"
        ).fetchone()
    assert row == (state.AWAITING_RELEASE, True)
    assert ledger.events_for(world.order_id(1002))[-1]["kind"] == "resend_requested"
    assert main(["resend", "#1002", "--note", "twice"]) == 1  # already queued


WRITER = """
import sys
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import LineRow
from sync_pipeline.lib.ledger.records import ExceptionRecord
ledger = Ledger(sys.argv[1], busy_timeout=60)
for i in range(40):
    ledger.open_exceptions([ExceptionRecord("tracking_missing", "warehouse_ops", "no tracking", subject=f"PKG{i}")])
print("done")
"""


def test_reading_does_not_block_a_writer(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI holds the file for one short transaction at a time: a writer in another process goes on."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir / "ledger.duckdb")], stdout=subprocess.PIPE, text=True
    )
    reads = 0
    while writer.poll() is None and reads < 200:
        assert main(["exceptions", "--json", "--limit", "1000"]) == 0
        reads += 1
    out, _ = writer.communicate(timeout=120)
    assert writer.returncode == 0 and out.strip() == "done"
    assert main(["exceptions", "--json", "--limit", "1000"]) == 0
    assert reads > 0
    assert len(Ledger(data_dir / "ledger.duckdb").list_open_exceptions("tracking_missing")) == 40
