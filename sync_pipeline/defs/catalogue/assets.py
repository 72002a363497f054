import dagster as dg

from sync_pipeline.defs.resources import (
    BusinessRulesResource,
    LedgerResource,
    PeoplevoxResource,
    ShopifyResource,
)
from sync_pipeline.lib.flows.catalogue import refresh, unmatched
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource


@dg.asset(
    key=["catalogue", "sku_map"],
    group_name="catalogue",
    kinds={"shopify", "peoplevox", "duckdb"},
    owners=["team:warehouse-ops"],
    tags={"domain": "catalogue"},
    pool="peoplevox_api",
)
def catalogue_sku_map(
    shopify: ShopifyResource,
    peoplevox: PeoplevoxResource,
    ledger: LedgerResource,
    business_rules: BusinessRulesResource,
) -> dg.MaterializeResult:
    """Every Shopify variant and every Peoplevox item type, refreshed hourly.

    Orders are translated against this copy (SKU overrides applied on top), so an order's SKU
    is checked without paging Peoplevox each time. A SKU seen on an order but missing here is
    looked up in Peoplevox before the order is held.
    """
    rules = business_rules.load()
    report = refresh(
        ShopifyOrdersSource(shopify.get_client()),
        PeoplevoxWarehouse(peoplevox.get_client()),
        ledger.get_ledger(),
        rules,
    )
    return dg.MaterializeResult(
        metadata={
            "shopify_variants": report.variants,
            "peoplevox_item_types": report.item_types,
            "variants_without_item_type": len(report.unmatched),
            "dagster/row_count": report.variants,
        }
    )


@dg.asset_check(asset=catalogue_sku_map, name="shopify_variants_have_item_types", pool="duckdb")
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


catalogue_job = dg.define_asset_job("catalogue_job", selection=[catalogue_sku_map])

catalogue_hourly = dg.ScheduleDefinition(
    name="catalogue_hourly",
    job=catalogue_job,
    cron_schedule="7 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh both catalogues every hour, so SKU mapping and the drift check stay current.",
)
