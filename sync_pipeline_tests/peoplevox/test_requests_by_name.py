"""The sandbox counts requests by operation and by the template or report they name: the limiter
is per request, and a report read is a request per page, so which read spends the budget is the
figure the rehearsal needs (issue 13)."""

from __future__ import annotations

from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline_tests.peoplevox.conftest import Sandbox, seed_catalogue


def test_requests_are_counted_per_report_page_and_per_template(
    sandbox: Sandbox, client: PeoplevoxClient
) -> None:
    seed_catalogue(sandbox.control, items=5)
    rows = list(client.iter_report_data("Item inventory summary", items_per_page=4))  # 10 rows: 3 pages
    assert len(rows) == 10  # 5 items at 2 sites
    list(client.iter_data("Item types"))
    client.get_report_columns("Despatch summary")
    counters = sandbox.control.state().counters
    assert counters.requests_by_name == {
        "Authenticate": 1,
        "GetReportData Item inventory summary": 3,
        "GetData Item types": 1,
        "GetReportColumns Despatch summary": 1,
    }
    assert sum(counters.requests_by_name.values()) == sum(counters.requests.values())
