"""The Dagster UI in a real browser (Debian's Chromium, driven by Playwright), against `dg dev`.

The ledger is seeded as the demo seeds it (ledger schema, both catalogues, the drift check). The
test reads what a person would read: the lineage shows the asset groups; an asset page shows its
description and its metadata tables; a check's result is shown; and a backfill of
`shopify/orders` launched from the asset's Materialize dialog completes. A screenshot of the last
page each test saw is left in its tmp directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from sync_pipeline_tests.deploy.stack import wait_until
from sync_pipeline_tests.ui.stack import CHROMIUM_FLAGS, UiStack, chromium_or_skip, running_dg_dev

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
]  # start-up of several Dagster processes
WAIT_MS = 120_000  # the UI loads its definitions over GraphQL; a loaded machine is slow
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStack]:
    chromium_or_skip()
    with running_dg_dev(tmp_path_factory.mktemp("ui"), ["UI-TEE-M", "UI-CAP"]) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser(ui: UiStack) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(chromium_or_skip()), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    # Dagster asks a new browser once to join its community; answer it whenever it shows.
    page.add_locator_handler(
        page.get_by_text("Join the Dagster community"),
        lambda: page.get_by_role("button", name="Skip").click(),
    )
    yield page
    page.screenshot(path=str(tmp_path / "last_page.png"), full_page=True)  # what the test last saw
    context.close()


def test_lineage_shows_the_asset_groups(ui: UiStack, page: Page) -> None:
    page.goto(f"{ui.url}/asset-groups")
    # Every group the product has (the flows' `group_name`s), so a flow missing from the UI shows.
    for group in ("orders", "catalogue", "ledger", "despatches", "stock", "finance", "operations"):
        expect(page.get_by_text(group, exact=True).filter(visible=True).first).to_be_visible()


def test_an_asset_page_shows_its_description_and_metadata_tables(ui: UiStack, page: Page) -> None:
    page.goto(f"{ui.url}/assets/ledger/schema")
    expect(page.get_by_text("at its newest schema version").filter(visible=True).first).to_be_visible()
    page.goto(f"{ui.url}/assets/ledger/schema?view=events")
    # The `tables` metadata is a markdown table of row counts per ledger table.
    expect(page.get_by_text("schema_version").filter(visible=True).first).to_be_visible()
    table = page.locator("table", has_text="order_events").first
    expect(table).to_be_visible()
    expect(table).to_contain_text("rows")
    # It shows the seeded ledger: the two SKUs each catalogue holds.
    for catalogue in ("shopify_variants", "pvx_item_types"):
        expect(table.get_by_role("row", name=f"{catalogue} 2", exact=True)).to_be_visible()


def test_a_check_result_is_visible(ui: UiStack, page: Page) -> None:
    page.goto(f"{ui.url}/assets/peoplevox/item_types?view=checks")
    expect(page.get_by_text("shopify_variants_have_item_types").filter(visible=True).first).to_be_visible()
    # Both catalogues hold the same SKUs, so the drift check passed, and says why.
    expect(page.get_by_text("Passed", exact=True).filter(visible=True).first).to_be_visible()
    expect(
        page.get_by_text("0 Shopify variant(s) have no Peoplevox item type").filter(visible=True).first
    ).to_be_visible()


def test_a_partition_backfill_of_shopify_orders_launched_from_the_ui_completes(
    ui: UiStack, page: Page
) -> None:
    with dg.DagsterInstance.from_config(str(ui.home)) as instance:
        before = {b.backfill_id for b in instance.get_backfills()}
    page.goto(f"{ui.url}/assets/shopify/orders")
    page.get_by_role("button", name="Materialize…").first.click()
    # The last three days, typed as a person would into the dialog's partition range field.
    today = datetime.now(UTC).date()
    days = f"[{today - timedelta(days=2):%Y-%m-%d}...{today:%Y-%m-%d}]"
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    field = dialog.locator("input[type=text]").filter(visible=True).first
    field.fill(days)
    field.press("Enter")
    expect(dialog.get_by_text("3 partitions").filter(visible=True).first).to_be_visible()
    launch = dialog.get_by_role("button", name="Launch backfill")
    expect(launch).to_be_enabled()
    launch.click()

    def new_backfills() -> list:
        with dg.DagsterInstance.from_config(str(ui.home)) as instance:
            return [b for b in instance.get_backfills() if b.backfill_id not in before]

    def finished() -> bool:
        new = new_backfills()
        return bool(new) and new[0].status.value in (
            "COMPLETED_SUCCESS",
            "COMPLETED_FAILED",
            "FAILED",
            "CANCELED",
        )

    wait_until(
        finished, timeout=300, interval=0.5, message="the backfill to finish", diagnostics=ui.diagnostics
    )
    new = new_backfills()
    backfill = new[0]
    assert backfill.status.value == "COMPLETED_SUCCESS", ui.diagnostics()
    assert backfill.asset_selection == [dg.AssetKey(["shopify", "orders"])]
    # One run (BackfillPolicy.single_run) over exactly the three days typed in the dialog.
    with dg.DagsterInstance.from_config(str(ui.home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter.for_backfill(backfill.backfill_id))
    assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
    assert runs[0].tags["dagster/asset_partition_range_start"] == f"{today - timedelta(days=2):%Y-%m-%d}"
    assert runs[0].tags["dagster/asset_partition_range_end"] == f"{today:%Y-%m-%d}"
    # And the UI says so.
    page.goto(f"{ui.url}/runs/b/{backfill.backfill_id}")
    expect(page.get_by_text("Succeeded", exact=True).filter(visible=True).first).to_be_visible()
    expect(page.get_by_text("100% completed").filter(visible=True).first).to_be_visible()
