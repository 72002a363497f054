"""The ledger's schema, audit log, exceptions and cursors against a real DuckDB file."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from sync_pipeline.lib.flows.orders.statuses import StatusReport, apply_statuses
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent, finance_units, schema
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline.lib.ledger.finance_units import ReturnRow
from sync_pipeline.lib.ledger.fulfilments import FulfilmentIntent
from sync_pipeline.lib.ledger.records import utcnow
from sync_pipeline.lib.ledger.schema import available_migrations


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    newest = len(available_migrations())
    assert ledger.migrate() == list(range(1, newest + 1))
    assert ledger.migrate() == []  # forward-only and idempotent
    assert ledger.schema_version() == newest
    # A second process (a new Ledger on the same file) sees the same version and applies nothing.
    assert Ledger(tmp_path / "ledger.duckdb").migrate() == []


def test_audit_log_keeps_every_event_in_order(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    ledger.append_events(
        [
            OrderEvent("gid://shopify/Order/1", "paid", "run:abc", reason="financial_status PAID"),
            OrderEvent("gid://shopify/Order/1", "address_changed", "run:def", detail={"city": "Zürich"}),
            OrderEvent("gid://shopify/Order/2", "paid", "run:abc"),
        ]
    )
    history = ledger.events_for("gid://shopify/Order/1")
    assert [e["kind"] for e in history] == ["paid", "address_changed"]
    assert history[0]["actor"] == "run:abc"
    assert "Zürich" in history[1]["detail"]


def test_event_details_of_one_kind_since_a_time_for_many_orders(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    now = utcnow()
    ledger.append_events(
        [
            OrderEvent(
                "A",
                "move_refused",
                "run",
                detail={"package": "P1", "why": "old"},
                at=now - timedelta(hours=1),
            ),
            OrderEvent("A", "move_refused", "run", detail={"package": "P1", "why": "recent"}),
            OrderEvent("A", "fulfilled", "run", detail={"package": "P1"}),
            OrderEvent("B", "move_refused", "run", detail={"package": "P2", "why": "b"}),
            OrderEvent("C", "move_refused", "run", detail={"package": "P3", "why": "not asked for"}),
            OrderEvent("D", "move_refused", "run"),  # no detail
        ]
    )
    with ledger.transaction() as con:
        found = ledger_events.details_since(
            con, "move_refused", ["A", "B", "D", "E"], now - timedelta(minutes=5)
        )
        assert ledger_events.details_since(con, "move_refused", [], now) == []
    assert found == [
        ("A", {"package": "P1", "why": "recent"}),
        ("B", {"package": "P2", "why": "b"}),
        ("D", {}),
    ]


def test_a_run_withdraws_only_its_own_unsent_write_aheads(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")

    def intent(number: str) -> FulfilmentIntent:
        return FulfilmentIntent(number, "A", "loc", {"fo": {"fol": 1}}, {"line": 1}, None, None, None, True)

    with ledger.transaction() as con:
        ledger_fulfilments.mark_sending(con, [intent("P1"), intent("P2"), intent("P3")], run_id="run-a")
        ledger_fulfilments.mark_sending(con, [intent("P2")], run_id="run-b")  # another run took it over
        ledger_fulfilments.mark_created(con, "P3", "F3", "#1001.1", None)  # answered meanwhile
        withdrawn = ledger_fulfilments.withdraw_unsent(con, ["P1", "P2", "P3"], "run-a", "not sent")
        assert ledger_fulfilments.withdraw_unsent(con, [], "run-a", "not sent") == set()
        states_now = dict(con.execute("SELECT package_number, state FROM shopify_fulfilments").fetchall())
    assert withdrawn == {"P1"}
    assert states_now == {"P1": "failed", "P2": "sending", "P3": "created"}


def test_an_answer_is_recorded_over_its_own_claim_only(tmp_path: Path) -> None:
    """`mark_created` / `mark_failed` with the run whose send Shopify answered: compare and set on
    that run's `sending` attempt. An answer that comes back after another run took the package over
    is a fact about Shopify: recorded as found over a row not created yet (the other run's claim then
    fails: it sends nothing), never over a fulfilment already recorded (two runs sent it)."""
    ledger = Ledger(tmp_path / "ledger.duckdb")

    def intent(number: str) -> FulfilmentIntent:
        return FulfilmentIntent(number, "A", "loc", {"fo": {"fol": 1}}, {"line": 1}, None, None, None, True)

    numbers = ["OURS", "LOOKED_UP", "RESENT", "FOUND_FIRST", "SENT_TWICE", "REFUSED_LATE"]
    with ledger.transaction() as con:
        ledger_fulfilments.mark_sending(con, [intent(n) for n in numbers], run_id="run-a")
        # Run B's lookup took these over meanwhile: found nothing (failed), or sent again (sending).
        ledger_fulfilments.mark_failed(con, "LOOKED_UP", "not in Shopify after an unknown outcome")
        ledger_fulfilments.mark_sending(con, [intent(n) for n in numbers[2:]], run_id="run-b")
        ledger_fulfilments.mark_created(con, "FOUND_FIRST", "F3", "#1001.3", None)  # B's lookup found A's
        assert (
            ledger_fulfilments.mark_created(con, "SENT_TWICE", "F9", "#1001.9", None, run_id="run-b")
            == "recorded"
        )
        outcomes = {
            n: ledger_fulfilments.mark_created(con, n, f"F{i}", f"#1001.{i}", None, run_id="run-a")
            for i, n in enumerate(numbers[:5])
        }
        refused_late = ledger_fulfilments.mark_failed(con, "REFUSED_LATE", "refused", run_id="run-a")
        # B's claim on a package A's late answer was recorded for fails: B does not send it.
        b_claims = ledger_fulfilments.claim_many(con, numbers, "run-b")
        rows = dict(con.execute("SELECT package_number, state || ' ' || coalesce(fulfillment_id, '-') "
                                "FROM shopify_fulfilments").fetchall())  # fmt: skip
    assert outcomes == {
        "OURS": "recorded",
        "LOOKED_UP": "found",
        "RESENT": "found",
        "FOUND_FIRST": "already",
        "SENT_TWICE": "duplicate",
    }
    assert not refused_late and b_claims == {"REFUSED_LATE"}
    assert rows == {
        "OURS": "created F0",
        "LOOKED_UP": "created F1",
        "RESENT": "created F2",
        "FOUND_FIRST": "created F3",
        "SENT_TWICE": "created F9",  # the first recorded stays; the caller opens `fulfilled_twice`
        "REFUSED_LATE": "sending -",
    }


def test_a_waves_answers_written_at_once_get_the_outcomes_one_at_a_time_would(tmp_path: Path) -> None:
    """`mark_created_many` / `mark_failed_many` (one read and one write a wave): the same
    compare-and-set as one answer at a time, a package answered twice in one wave included."""
    ledger = Ledger(tmp_path / "ledger.duckdb")

    def intent(number: str) -> FulfilmentIntent:
        return FulfilmentIntent(number, "A", "loc", {"fo": {"fol": 1}}, {"line": 1}, None, None, None, True)

    numbers = ["OURS", "LOOKED_UP", "RESENT", "FOUND_FIRST", "SENT_TWICE", "TWICE", "REFUSED", "REFUSED_LATE"]
    created = ledger_fulfilments.Created
    with ledger.transaction() as con:
        ledger_fulfilments.mark_sending(con, [intent(n) for n in numbers], run_id="run-a")
        ledger_fulfilments.mark_failed(con, "LOOKED_UP", "not in Shopify after an unknown outcome")
        taken = ["RESENT", "FOUND_FIRST", "SENT_TWICE", "REFUSED_LATE"]
        ledger_fulfilments.mark_sending(con, [intent(n) for n in taken], run_id="run-b")  # B took these
        ledger_fulfilments.mark_created(con, "FOUND_FIRST", "F3", "#1001.3", None)  # B's lookup found A's
        ledger_fulfilments.mark_created(con, "SENT_TWICE", "F9", "#1001.9", None, run_id="run-b")
        outcomes = ledger_fulfilments.mark_created_many(
            con,
            [created("OURS", "F0", "#1001.0", "RM1", {"line": 2}), created("LOOKED_UP", "F1", "#1001.1", None),
             created("RESENT", "F2", "#1001.2", None), created("FOUND_FIRST", "F3", "#1001.3", None),
             created("SENT_TWICE", "F4", "#1001.4", None), created("TWICE", "F5", "#1001.5", None),
             created("TWICE", "F6", "#1001.6", None), created("GONE", "F7", "#1001.7", None)],
            run_id="run-a",
        )  # fmt: skip
        failed = ledger_fulfilments.mark_failed_many(
            con, [("REFUSED", "no"), ("REFUSED_LATE", "no")], "run-a"
        )
        rows = {
            n: (state, fid, attempts, lines, posted is not None)
            for n, state, fid, attempts, lines, posted in con.execute(
                "SELECT package_number, state, fulfillment_id, attempts, line_quantities::VARCHAR, "
                "tracking_posted_at FROM shopify_fulfilments"
            ).fetchall()
        }
    assert outcomes == [
        "recorded",
        "found",
        "found",
        "already",
        "duplicate",
        "recorded",
        "duplicate",
        "found",
    ]
    assert failed == {"REFUSED"}
    one = '{"line": 1}'
    assert rows == {
        "OURS": ("created", "F0", 1, '{"line": 2}', True),  # Shopify's lines and the tracking recorded
        "LOOKED_UP": ("created", "F1", 1, one, False),
        "RESENT": ("created", "F2", 2, one, False),
        "FOUND_FIRST": ("created", "F3", 2, one, False),
        "SENT_TWICE": ("created", "F9", 2, one, False),  # the first recorded stays
        "TWICE": ("created", "F5", 1, one, False),
        "REFUSED": ("failed", None, 1, one, False),
        "REFUSED_LATE": ("sending", None, 2, one, False),  # B's attempt stands
    }


def test_same_problem_twice_is_one_open_exception(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    problem = ExceptionRecord(
        kind="unmapped_sku",
        owner="warehouse_ops",
        message="SKU 'TEE-XL' has no Peoplevox item type",
        shopify_order_id="gid://shopify/Order/1",
        subject="TEE-XL",
    )
    assert ledger.open_exceptions([problem]) == 1
    assert ledger.open_exceptions([problem]) == 0
    other_sku = ExceptionRecord(**{**problem.__dict__, "subject": "TEE-XXL"})
    assert ledger.open_exceptions([other_sku]) == 1
    open_now = ledger.list_open_exceptions("unmapped_sku")
    assert [(e.subject, e.occurrences) for e in open_now] == [("TEE-XL", 2), ("TEE-XXL", 1)]
    assert all(e.owner == "warehouse_ops" for e in open_now)


def test_resolving_an_orders_exceptions_spares_the_kept_ones(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    oid, other = "gid://shopify/Order/1", "gid://shopify/Order/2"

    def problem(kind: str, subject: str, order: str = oid) -> ExceptionRecord:
        owner = {"unmapped_sku": "warehouse_ops"}.get(kind, "cx")
        return ExceptionRecord(kind, owner, f"{kind} {subject}", order, None, subject)

    ledger.open_exceptions(
        [
            problem("unmapped_sku", "TEE-XL"),
            problem("unmapped_sku", "TEE-XXL"),
            problem("bad_address", ""),
            problem("change_failed", "TEE-XL"),  # a kind not asked for
            problem("unmapped_sku", "TEE-XL", other),  # another order
        ]
    )
    with ledger.transaction() as con:
        closed = ledger_exceptions.resolve_for_order(
            con, oid, ("unmapped_sku", "bad_address"), "fixed", keep=[("unmapped_sku", "TEE-XXL")]
        )
    assert closed == 2
    still = {(e.shopify_order_id, e.kind, e.subject) for e in ledger.list_open_exceptions()}
    assert still == {
        (oid, "unmapped_sku", "TEE-XXL"),
        (oid, "change_failed", "TEE-XL"),
        (other, "unmapped_sku", "TEE-XL"),
    }
    with ledger.transaction() as con:
        assert ledger_exceptions.resolve_for_order(con, oid, ("unmapped_sku",), "fixed") == 1


def test_cursors_round_trip(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    assert ledger.get_cursor("shopify_orders") is None
    ledger.set_cursor("shopify_orders", "2026-11-27T00:00:00Z")
    ledger.set_cursor("shopify_orders", "2026-11-27T00:05:00Z")
    assert ledger.get_cursor("shopify_orders") == "2026-11-27T00:05:00Z"


def test_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    ledger.migrate()
    try:
        with ledger.transaction() as con:
            con.execute("INSERT INTO sync_cursors VALUES ('x', '1', now())")
            raise RuntimeError("crash mid-transaction")
    except RuntimeError:
        pass
    assert ledger.get_cursor("x") is None


def ledger_at(path: Path, version: int) -> duckdb.DuckDBPyConnection:
    """A connection to a new ledger file migrated to `version` only (a ledger of an older release)."""
    con = duckdb.connect(str(path))
    schema.applied_versions(con)
    for m in [m for m in available_migrations() if m.version <= version]:
        con.execute(m.sql)
        con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [m.version, m.name])
    return con


def test_0010_keeps_returns_read_before_it_and_keys_them_by_condition(tmp_path: Path) -> None:
    """A ledger at 0009 with returns in it (one without a condition) upgrades without losing a row;
    afterwards one item of one return may be held twice, graded two ways."""
    path = tmp_path / "ledger.duckdb"
    con = ledger_at(path, 9)
    con.execute(
        "INSERT INTO pvx_returns VALUES ('RET1', 'TEE', 'SHP-1', NULL, 2, 'Too small', 'Reusable', true, NULL, "
        "'PrimarySite', now()), ('RET2', 'CAP', 'SHP-1', NULL, 1, NULL, NULL, false, NULL, NULL, now())"
    )
    con.close()
    ledger = Ledger(path)
    assert ledger.migrate() == list(range(10, len(available_migrations()) + 1))
    with ledger.transaction() as c:
        rows = c.execute(
            "SELECT return_code, item_code, quantity, condition FROM pvx_returns ORDER BY 1"
        ).fetchall()
        assert rows == [("RET1", "TEE", 2, "Reusable"), ("RET2", "CAP", 1, "")]
        c.execute(
            "INSERT INTO pvx_returns VALUES ('RET1', 'TEE', 'SHP-1', NULL, 1, 'Torn', 'Not reusable', false, NULL, "
            "'PrimarySite', now())"
        )


def test_a_return_read_again_replaces_its_figure_and_never_adds_a_re_read(tmp_path: Path) -> None:
    """Each read gives a return's current rows: their sum per (code, item, condition) replaces the
    stored figure. A re-read adds nothing; a second tee booked later (a second row) raises 1 to 2."""
    ledger = Ledger(tmp_path / "ledger.duckdb")
    ledger.migrate()
    tee = ReturnRow("RET1", "TEE", "SHP-1", None, 1, "Too small", "Reusable", True, None, "PrimarySite")
    with ledger.transaction() as con:
        assert [r.quantity for r in finance_units.put_returns(con, [tee])] == [1]
        assert finance_units.put_returns(con, [tee]) == []  # the same read again
        assert [r.quantity for r in finance_units.put_returns(con, [tee, tee])] == [1]  # one unit added
        assert finance_units.put_returns(con, [tee, tee]) == []
        stored = con.execute("SELECT quantity FROM pvx_returns WHERE return_code = 'RET1'").fetchall()
    assert stored == [(2,)]


def test_0013_widens_finance_money_to_three_decimals_keeping_what_was_stored(tmp_path: Path) -> None:
    """A ledger at 0012 with finance rows upgrades without changing a figure; afterwards a Kuwaiti
    dinar price (5.693) is stored as Shopify states it, not rounded to 5.69."""
    path = tmp_path / "ledger.duckdb"
    con = ledger_at(path, 12)
    con.execute(
        "INSERT INTO finance_order_lines VALUES (1, DATE '2026-11-02', 11, 'TEE', 2, 2, true, 12.50, 14.99)"
    )
    con.close()
    ledger = Ledger(path)
    assert ledger.migrate() == list(range(13, len(available_migrations()) + 1))
    with ledger.transaction() as c:
        money = c.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE (table_name LIKE 'finance_%' OR table_name LIKE 'pvx_%') AND data_type LIKE 'DECIMAL%'"
        ).fetchall()
        assert len(money) == 38 and {t for _, _, t in money} == {"DECIMAL(18,3)"}, money
        c.execute(
            "INSERT INTO finance_order_lines VALUES (2, DATE '2026-11-02', 21, 'TEE', 2, 2, true, 15.00, 5.693)"
        )
        prices = c.execute(
            "SELECT unit_price, p_unit_price FROM finance_order_lines ORDER BY order_key"
        ).fetchall()
    assert prices == [(Decimal("12.50"), Decimal("14.99")), (Decimal("15.00"), Decimal("5.693"))]


def test_0015_keeps_when_each_orders_allocation_moved_and_only_a_move_of_the_allocation_moves_it_on(
    tmp_path: Path,
) -> None:
    """A ledger at 0014 upgrades with, on each order, when its allocation last moved as far as the
    events tell (the latest `pvx_status` event crossing New / Allocated-or-later or unreadable, or a
    later injection or change, which record statuses without one: erring late); an order with
    none keeps NULL. From then on the writers of statuses move it only when the allocation moves:
    Allocated → Despatched leaves it (session-9 rehearsal: moving it on held units back again)."""
    path = tmp_path / "ledger.duckdb"
    con = ledger_at(path, 14)
    t = utcnow().replace(microsecond=0)
    con.execute(
        "INSERT INTO orders (shopify_order_id, state, sales_order_number, pvx_status, first_seen_at, "
        "last_seen_at) VALUES ('O1', 'in_warehouse', 'SO-1', 'Picking', ?, ?), "
        "('O2', 'in_warehouse', 'SO-2', 'New', ?, ?), ('O3', 'in_warehouse', 'SO-3', 'Allocated', ?, ?), "
        "('O4', 'in_warehouse', 'SO-4', 'Allocated', ?, ?)",
        [t] * 8,
    )
    minutes = [t - timedelta(minutes=m) for m in range(6)]
    con.executemany(
        "INSERT INTO order_events (shopify_order_id, occurred_at, kind, actor, reason) VALUES (?, ?, ?, ?, ?)",
        [
            ("O1", minutes[4], "injected", "release", "accepted by Peoplevox as SO-1 (PrimarySite)"),
            ("O1", minutes[3], "pvx_status", "status", "New → Allocated"),
            ("O1", minutes[2], "pvx_status", "status", "Allocated → Picking"),  # no move
            ("O1", minutes[1], "state_changed", "status", "in_warehouse"),  # not a status writer
            ("O3", minutes[5], "pvx_status", "status", "? → Allocated"),
            (
                "O3",
                minutes[2],
                "change_confirmed",
                "release",
                "SO-3 looked up after a change's answer was lost",
            ),
            ("O4", minutes[2], "pvx_status", "status", None),  # unreadable: counted
        ],
    )
    con.close()
    ledger = Ledger(path)
    assert ledger.migrate() == list(range(15, len(available_migrations()) + 1))

    def learned() -> dict[str, object]:
        with ledger.transaction() as c:
            return dict(c.execute("SELECT shopify_order_id, pvx_status_learned_at FROM orders").fetchall())

    assert learned() == {"O1": minutes[3], "O2": None, "O3": minutes[2], "O4": minutes[2]}
    # An event alone moves nothing now; the status writers do, when the allocation moves.
    ledger.append_events([OrderEvent("O2", "pvx_status", "status", at=t + timedelta(minutes=1))])
    assert learned()["O2"] is None
    before = utcnow()
    apply_statuses(
        ledger, [("SO-1", "Despatched"), ("SO-2", "Allocated"), ("SO-4", "New")], "test", StatusReport()
    )
    after = learned()
    assert after["O1"] == minutes[3]  # Picking → Despatched: the allocation stayed where it was
    assert after["O3"] == minutes[2]
    assert (
        before <= after["O2"] <= utcnow() and before <= after["O4"] <= utcnow()
    )  # New → Allocated, and back


def test_the_files_show_each_currency_with_the_decimals_minor_units_gives() -> None:
    """The export SQL's decimals and `currency.minor_units` are one table read twice."""
    from sync_pipeline.lib.domain.currency import NO_DECIMALS, THREE_DECIMALS, minor_units
    from sync_pipeline.lib.ledger.finance_exports import _amount_text, _with_decimals

    codes = sorted(THREE_DECIMALS | NO_DECIMALS | {"EUR", "GBP", "USD", "kwd", " jpy "})
    con = duckdb.connect()
    con.execute("CREATE TABLE t (currency VARCHAR, shop_currency VARCHAR, total DECIMAL(18, 3))")
    con.executemany("INSERT INTO t VALUES (?, 'GBP', 1200.000)", [[c] for c in codes])
    shown = dict(
        con.execute(f"SELECT currency, {_amount_text('total')} FROM {_with_decimals('t')}").fetchall()
    )
    assert {c: shown[c] for c in codes} == {
        c: {0: "1200", 2: "1200.00", 3: "1200.000"}[minor_units(c)] for c in codes
    }
