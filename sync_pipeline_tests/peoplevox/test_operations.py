"""Every Integration Service operation over real HTTP, through the client and raw SOAP."""

from __future__ import annotations

import base64

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.peoplevox import (
    DespatchSummaryRow,
    ItemInventorySummaryRow,
    ItemType,
    PeoplevoxAuthError,
    PeoplevoxClient,
    PeoplevoxError,
    SalesOrder,
    SalesOrderItem,
    SaveAction,
    clauses,
)
from sync_pipeline_tests.peoplevox.conftest import Sandbox, seed_catalogue


def test_authenticate_detail_is_client_and_session(sandbox: Sandbox) -> None:
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<Authenticate xmlns="http://www.peoplevox.net/"><clientId>sandbox</clientId>'
        f"<username>integration</username><password>{base64.b64encode(b'sandbox-password').decode()}</password>"
        "</Authenticate></soap:Body></soap:Envelope>"
    )
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"http://www.peoplevox.net/Authenticate"',
    }
    answer = httpx.post(sandbox.asmx, content=envelope, headers=headers)
    assert answer.status_code == 200
    assert "<ResponseId>0</ResponseId>" in answer.text
    assert "<Detail>sandbox," in answer.text
    wrong = httpx.post(sandbox.asmx, content=envelope.replace("integration", "intruder"), headers=headers)
    assert wrong.status_code == 200 and "<ResponseId>-1</ResponseId>" in wrong.text
    assert "System : Security" in wrong.text
    bad_action = httpx.post(sandbox.asmx, content=envelope, headers={**headers, "SOAPAction": '"x/GetData"'})
    assert bad_action.status_code == 500 and "soap:Fault" in bad_action.text


def test_wrong_password_raises_auth_error(sandbox: Sandbox) -> None:
    with (
        PeoplevoxClient(sandbox.url, "sandbox", "integration", "wrong") as pvx,
        pytest.raises(PeoplevoxAuthError),
    ):
        pvx.get_data("Item types")


def test_wsdl_is_served_with_the_sandbox_address(sandbox: Sandbox) -> None:
    text = httpx.get(sandbox.asmx + "?wsdl").text
    assert f'location="{sandbox.asmx}"' in text
    assert "peoplevox.net/appb" not in text
    assert httpx.get(sandbox.url + "/other/resources/integrationservicev4.asmx?wsdl").status_code == 404


def test_get_data_pages_until_total(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    sandbox.control.seed_items([(f"P{i:04d}", f"9{i:05d}", f"Item {i}") for i in range(2350)])
    first = client.get_data("Item types", items_per_page=1000)
    assert first.total_count == 2350 and len(first.rows) == 1000
    codes = [r["ItemCode"] for r in client.iter_data("Item types", items_per_page=1000)]
    assert codes == [f"P{i:04d}" for i in range(2350)]
    assert client.get_data("Item types", page_no=5, items_per_page=1000).rows == []
    typed = list(client.iter_models(ItemType, clauses.starts_with("ItemCode", "P000")))
    assert [t.item_code for t in typed] == [f"P000{i}" for i in range(10)]


def test_get_save_template_and_report_columns(client: PeoplevoxClient) -> None:
    assert client.get_save_template("Sales order items")[:3] == [
        "SalesOrderNumber",
        "ItemCode",
        "QuantityOrdered",
    ]
    assert "Line" in client.get_save_template("Sales order items")
    assert "Barcode" in client.get_save_template("Item types")
    assert client.get_report_columns("Item inventory summary")[-1] == "Available"
    assert "Tracking number" in client.get_report_columns("Despatch summary")
    with pytest.raises(PeoplevoxError):
        client.get_save_template("Despatches")
    with pytest.raises(PeoplevoxError):
        client.get_report_columns("No such report")


def test_save_data_partial_failure_maps_rows(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    seed_catalogue(sandbox.control)
    orders = [
        SalesOrder(sales_order_number="SO-1", created_date="2026-10-01 10:00:00", email="a@example.com"),
        {"SalesOrderNumber": "SO-2", "CreatedDate": "01/13/2026", "Email": "b@example.com"},
        SalesOrder(sales_order_number="SO-3", created_date="2026-10-01 10:00:00", email="c@example.com"),
    ]
    result = client.save_data("Sales orders", orders)
    assert result.saved_count == 2 and not result.ok
    assert [r.ok for r in result.rows] == [True, False, True]
    assert result.rows[1].record is orders[1]
    assert "not a valid date" in (result.rows[1].error or "")
    lines = [
        SalesOrderItem(sales_order_number="SO-1", item_code="SKU-1", quantity_ordered=2, line="1"),
        SalesOrderItem(sales_order_number="SO-1", item_code="NOPE", quantity_ordered=1, line="2"),
        SalesOrderItem(sales_order_number="SO-9", item_code="SKU-1", quantity_ordered=1, line="1"),
        {"SalesOrderNumber": "SO-3", "ItemCode": "SKU-2", "QuantityOrdered": "", "Line": "1"},
    ]
    result = client.save_data("Sales order items", lines)
    assert [r.ok for r in result.rows] == [True, False, False, False]
    assert "NOPE" in (result.rows[1].error or "") and "SO-9" in (result.rows[2].error or "")
    assert "QuantityOrdered" in (result.rows[3].error or "")
    state = sandbox.control.state()
    assert [o.number for o in state.orders] == ["SO-1", "SO-3"]
    assert state.counters.save_rows_total == 7 and state.counters.save_calls_total == 2


def test_item_type_requires_barcode_and_unique_barcode(client: PeoplevoxClient) -> None:
    result = client.save_data(
        "Item types",
        [
            {"ItemCode": "A", "Barcode": "111", "Name": "x"},
            {"ItemCode": "B", "Barcode": "", "Name": "y"},
            {"ItemCode": "C", "Barcode": "111", "Name": "z"},
        ],
    )
    assert [r.ok for r in result.rows] == [True, False, False]
    deleted = client.save_data("Item types", [{"ItemCode": "A"}], action=SaveAction.DELETE)
    assert deleted.ok
    assert client.get_data("Item types").total_count == 0


def test_whole_request_errors(client: PeoplevoxClient) -> None:
    with pytest.raises(PeoplevoxError, match="does not exist in template"):
        client.save_data("Item types", [{"ItemCode": "A", "Colour": "red"}])
    with pytest.raises(PeoplevoxError, match="cannot be used for importing"):
        client.save_data("Despatch summary", [{"x": "1"}])
    with pytest.raises(PeoplevoxError, match="does not exist"):
        client.get_data("Nonsense")


def test_reports_filter_order_and_columns(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    codes = seed_catalogue(sandbox.control, items=3, stock=5)
    sandbox.control.set_stock([("SKU-2", "Wholesale", 40)])
    page = client.get_report_data(
        "Item inventory summary",
        clauses.report_column_equals("Site reference", "Wholesale"),
        columns=["Item code", "Available"],
        order_by="[Available] desc, [Item code] asc",
    )
    assert page.rows == [
        {"Item code": "SKU-2", "Available": "40"},
        {"Item code": "SKU-1", "Available": "0"},
        {"Item code": "SKU-3", "Available": "0"},
    ]
    rows = list(
        client.iter_models(
            ItemInventorySummaryRow, clauses.report_column_equals("Site reference", "PrimarySite")
        )
    )
    assert {(r.item_code, r.available) for r in rows} == {(c, 5) for c in codes}
    with pytest.raises(PeoplevoxError):
        client.get_report_data("Item inventory summary", columns=["Nope"])


def test_despatch_summary_reads_the_warehouse(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    seed_catalogue(sandbox.control, items=2, stock=20)
    client.save_data(
        "Sales orders", [SalesOrder(sales_order_number="D1", channel_name="Shopify", email="d@x.io")]
    )
    client.save_data(
        "Sales order items",
        [
            SalesOrderItem(sales_order_number="D1", item_code="SKU-1", quantity_ordered=4, line="1"),
            SalesOrderItem(sales_order_number="D1", item_code="SKU-2", quantity_ordered=1, line="2"),
        ],
    )
    sandbox.control.force_status("D1", "Despatched")
    rows = list(
        client.iter_models(DespatchSummaryRow, clauses.report_column_equals("Salesorder number", "D1"))
    )
    assert sum(r.number_of_items for r in rows) == 5
    assert {r.despatch_number for r in rows} == {"DES00001-1", "DES00001-2"}
    assert all(r.tracking_number and r.carrier == "Royal Mail" and r.email == "d@x.io" for r in rows)
    assert all(r.despatch_date is not None for r in rows)
    since = clauses.date_at_least("[Despatch date]", rows[0].despatch_date)  # type: ignore[arg-type]
    assert client.get_report_data("Despatch summary", since).total_count == len(rows)


def test_subscribe_and_unsubscribe(client: PeoplevoxClient, sandbox: Sandbox) -> None:
    first = client.subscribe_event("AvailabilityChanges", "http://127.0.0.1:9/cb?sku={ItemCode}")
    second = client.subscribe_post_event("Returns", "http://127.0.0.1:9/post", "item={ItemCode}&q={Quantity}")
    assert second == first + 1
    client.unsubscribe_event(first)
    with pytest.raises(PeoplevoxError):
        client.unsubscribe_event(first)
    with pytest.raises(PeoplevoxError):
        client.subscribe_event("NotAnEvent", "http://127.0.0.1:9/cb")
    assert [s.subscription_id for s in sandbox.control.state().subscriptions] == [second]


safe_text = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\r\n\t,\"'=+-@"),
    max_size=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(email=safe_text, address=safe_text)
def test_hostile_csv_values_round_trip_through_the_service(
    client: PeoplevoxClient, email: str, address: str
) -> None:
    order = SalesOrder(sales_order_number="H1", email=email, shipping_address_line1=address)
    assert client.save_data("Sales orders", [order]).ok
    [row] = client.get_data("Sales orders", clauses.field_equals("SalesOrderNumber", "H1")).rows
    assert (row["Email"], row["ShippingAddressLine1"]) == (email, address)
