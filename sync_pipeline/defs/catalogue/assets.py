import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.resources import (
    BusinessRulesResource,
    LedgerResource,
    PeoplevoxResource,
    ShopifyResource,
)
from sync_pipeline.lib.flows.catalogue import refresh_item_types, refresh_variants, unmatched
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource

OWNERS = ["team:warehouse-ops"]
# The hourly variant read is background work: like the finance money read it leaves half of the
# shop's cost bucket to the flows customers wait for (orders, fulfilments, stock), waiting before
# each page until the bucket holds the page's cost plus that share. At session 16's peak it ran
# as a hot-path client, raced the fulfilments for every refilled point and failed after eight
# THROTTLED answers. It stops yielding after 45 minutes (inside the hour, before the next read).
CATALOGUE_READ_BUCKET_RESERVE = 0.5
CATALOGUE_READ_MAX_YIELD_SECONDS = 45 * 60


# Each side in the catalogue's own pool (one refresh at a time): the Shopify read shares the
# store's cost bucket with every flow, which each client learns from Shopify's throttle status;
# the Peoplevox read shares the tenant's request limit through the pacer file, leaving the orders
# flow its reserve.
@dg.asset(
    key=brand.key("shopify", "variants"),
    group_name="catalogue",
    kinds={"shopify", "duckdb"},
    owners=OWNERS,
    tags={"domain": "catalogue"},
    pool=brand.SHOPIFY_CATALOGUE,
)
def shopify_variants(shopify: ShopifyResource, ledger: LedgerResource) -> dg.MaterializeResult:
    """Every Shopify product variant (SKU, barcode, inventory item, bundle or not), refreshed hourly.

    The stock flow maps Peoplevox item codes to these inventory items; the drift check compares
    them with Peoplevox's item types. A large catalogue (`SHOPIFY_BULK_THRESHOLD` variants or
    more) is read with one Shopify bulk operation, off the rate limit live traffic uses;
    `shopify_read` says which way this run read it. A paginated read leaves half of Shopify's rate
    limit to orders, fulfilments and stock: `shopify_yielded_seconds` is how long it waited for them.
    """
    client = shopify.get_client(reserve_share=CATALOGUE_READ_BUCKET_RESERVE)
    client.yield_for(CATALOGUE_READ_MAX_YIELD_SECONDS)
    count = refresh_variants(ShopifyOrdersSource(client), ledger.get_ledger())
    return dg.MaterializeResult(
        metadata={
            "shopify_variants": count,
            "dagster/row_count": count,
            "shopify_read": client.last_read_mode,
            "shopify_yielded_seconds": round(client.yielded_seconds, 1),
        }
    )


@dg.asset(
    key=brand.key("peoplevox", "item_types"),
    group_name="catalogue",
    kinds={"peoplevox", "duckdb"},
    owners=OWNERS,
    tags={"domain": "catalogue"},
    pool=brand.PEOPLEVOX_CATALOGUE,
)
def peoplevox_item_types(peoplevox: PeoplevoxResource, ledger: LedgerResource) -> dg.MaterializeResult:
    """Every Peoplevox item type (item code, barcode, name), refreshed hourly.

    Orders are translated against this copy (SKU overrides applied on top), so an order's SKUs
    are checked without paging Peoplevox each time; a code seen on an order but missing here is
    looked up in Peoplevox before the order is held.
    """
    count = refresh_item_types(PeoplevoxWarehouse(peoplevox.get_client()), ledger.get_ledger())
    return dg.MaterializeResult(metadata={"peoplevox_item_types": count, "dagster/row_count": count})


@dg.asset_check(asset=peoplevox_item_types, name="shopify_variants_have_item_types", pool=brand.LEDGER)
def shopify_variants_have_item_types(
    ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.AssetCheckResult:
    """Catalogue drift: Shopify variants that no Peoplevox item type matches (after SKU overrides).

    Each one will hold the first order that contains it. Warehouse ops fixes it by creating the
    item type in Peoplevox or adding an override in `data/config/sku_overrides.yaml`.
    """
    missing = unmatched(ledger.get_ledger(), business_rules.load())
    table = "| SKU | product |\n|---|---|\n" + (
        "\n".join(f"| {s} | {t} |" for s, t in missing[:50]) or "| (none) | |"
    )
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(missing)} Shopify variant(s) have no Peoplevox item type",
        metadata={"count": len(missing), "variants": dg.MetadataValue.md(table)},
    )


catalogue_job = dg.define_asset_job(
    "catalogue_job", selection=[shopify_variants, peoplevox_item_types], tags=brand.SHARED_RUN_SLOTS
)

catalogue_hourly = dg.ScheduleDefinition(
    name="catalogue_hourly",
    job=catalogue_job,
    cron_schedule="7 * * * *",
    default_status=brand.schedule_status("catalogue"),
    description="Refresh both catalogues every hour, so SKU mapping and the drift check stay current.",
)
