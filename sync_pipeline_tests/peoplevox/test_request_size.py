"""Fuller saves, bounded by size: the service refuses a body over its request length (HTTP 500,
nothing saved), the client never sends one, and a release batch too big for one request is split
until every row is saved, none in doubt."""

from __future__ import annotations

import httpx
import pytest

from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.release.inject import save_isolating
from sync_pipeline.lib.peoplevox import SaveTooLarge
from sync_pipeline.lib.peoplevox.csv_io import write_csv
from sync_pipeline.lib.peoplevox.soap import element, envelope

LIMIT = 8_000  # the sandbox host's request length in these tests (4 MB by default)


def _rows(count: int, name_length: int = 100) -> list[dict[str, str]]:
    return [{"ItemCode": f"BIG-{i:03d}", "Barcode": f"B{i}", "Name": "n" * name_length} for i in range(count)]


def test_the_service_refuses_a_body_over_its_request_length_and_saves_nothing(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with make_sandbox(max_request_bytes=LIMIT) as box, box.client() as pvx:
        pvx.get_data("Item types")  # a session
        session_id = pvx._session.session_id  # type: ignore[union-attr]
        rows = _rows(100)
        body = (
            "<saveRequest>"
            + element("TemplateName", "Item types")
            + element("CsvData", write_csv(list(rows[0]), rows))
            + element("Action", 0)
            + "</saveRequest>"
        )
        payload = envelope("SaveData", body, ("sandbox", session_id))
        assert len(payload) > LIMIT
        answer = httpx.post(
            box.asmx,
            content=payload,
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": '"http://www.peoplevox.net/SaveData"',
            },
        )
        assert answer.status_code == 500 and "Maximum request length exceeded" in answer.text
        assert len(box.control.state().items) == 0


def test_the_client_does_not_send_a_save_over_its_size(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with make_sandbox(max_request_bytes=LIMIT) as box, box.client(max_request_bytes=LIMIT - 500) as pvx:
        pvx.get_data("Item types")
        sent = pvx.requests_sent
        with pytest.raises(SaveTooLarge) as refused:
            pvx.save_data("Item types", _rows(100))
        assert pvx.requests_sent == sent  # nothing left the client: no rows in doubt
        assert "100 rows" in str(refused.value)
        assert box.control.state().counters.save_calls.get("Item types", 0) == 0


def test_a_batch_too_big_for_one_request_is_split_and_every_row_saved(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with make_sandbox(max_request_bytes=LIMIT) as box, box.client(max_request_bytes=LIMIT - 500) as pvx:
        rows = _rows(100)
        keys = [r["ItemCode"] for r in rows]
        by_key = dict(zip(keys, rows, strict=True))
        verdicts, unknown = save_isolating(
            lambda batch: PeoplevoxWarehouse(pvx)._save(
                "Item types", list(batch), [r["ItemCode"] for r in batch]
            ),
            rows,
            lambda r: r["ItemCode"],
        )
        assert unknown == set()
        assert sorted(v.key for _, v in verdicts) == sorted(by_key) and all(v.ok for _, v in verdicts)
        state = box.control.state()
        assert len(state.items) == 100
        # Split in halves until each fits (~120 bytes a row): no request went over the host's
        # length (the sandbox would have answered 500 and left rows in doubt).
        assert state.counters.save_calls["Item types"] == 2
