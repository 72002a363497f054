"""Resources shared by every flow. Connection settings come from environment variables only.

Each resource is a thin wrapper that builds a client from `lib/`; the clients hold the
behaviour (pacing, retries, re-authentication) and are tested on their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.settings import PeoplevoxLimits, ShopifyTuning, SyncSettings

if TYPE_CHECKING:
    from sync_pipeline.lib.domain.config import BusinessRules
    from sync_pipeline.lib.peoplevox import PeoplevoxClient
    from sync_pipeline.lib.shopify import ShopifyClient


class LedgerResource(dg.ConfigurableResource):
    """The DuckDB ledger under the data directory. Opened per transaction, never held."""

    data_dir: str
    busy_timeout_seconds: float = 60.0

    def get_ledger(self) -> Ledger:
        return Ledger(Path(self.data_dir) / "ledger.duckdb", busy_timeout=self.busy_timeout_seconds)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)


class BusinessRulesResource(dg.ConfigurableResource):
    """SKU overrides, bundles, buffers, routing, hold window and cut-off, from `data/config/`."""

    config_dir: str

    def load(self) -> BusinessRules:
        from sync_pipeline.lib.domain.config import load_business_rules

        return load_business_rules(Path(self.config_dir))


class ShopifyResource(dg.ConfigurableResource):
    """Shopify Admin GraphQL API (custom app token)."""

    shop_url: str
    access_token: str
    api_version: str  # the tunables' defaults and limits live in settings.ShopifyTuning
    webhook_secret: str = ""
    bulk_threshold: int  # 0 turns bulk operations off

    def get_client(self, reserve_share: float = 0.0) -> ShopifyClient:
        """`reserve_share` > 0: a background reader, leaving that share of the shop's cost bucket
        to the hot-path clients (lib/shopify/pacing.py)."""
        from sync_pipeline.lib.shopify import ShopifyClient

        return ShopifyClient(
            shop_url=self.shop_url,
            access_token=self.access_token,
            api_version=self.api_version,
            bulk_threshold=self.bulk_threshold,
            reserve_share=reserve_share,
        )


class PeoplevoxResource(dg.ConfigurableResource):
    """Peoplevox Integration Service (SOAP), paced by its request limiter."""

    base_url: str
    client_id: str
    username: str
    password: str
    requests_per_window: int  # defaults and limits: settings.PeoplevoxLimits
    window_seconds: float
    # The file every process of this tenant paces through (lib/peoplevox/pacer.py); empty: one
    # per client id under `pacer_dir` (the data directory).
    pacer_file: str = ""
    pacer_dir: str
    orders_reserve: int = 3  # slots of the window other flows leave to the orders flow
    # …and may use once no release or status request asked for this long (0: never; pacer.py).
    lend_reserve_after_seconds: float = 15.0

    def get_client(self, urgent: bool = False) -> PeoplevoxClient:
        """A client pacing through the tenant's shared window. `urgent`: the orders flow's release
        and status steps, which take any free slot; every other step leaves `orders_reserve` free,
        unless no urgent request asked for a slot for `lend_reserve_after_seconds` (pacer.py)."""
        from sync_pipeline.lib.peoplevox import PeoplevoxClient
        from sync_pipeline.lib.peoplevox.pacer import RequestPacer, tenant_file
        from sync_pipeline.lib.peoplevox.session_file import session_path

        pacer_path = tenant_file(
            Path(self.pacer_dir), self.client_id, Path(self.pacer_file) if self.pacer_file else None
        )
        pacer = RequestPacer(
            self.requests_per_window,
            self.window_seconds,
            path=pacer_path,
            keep_free=0 if urgent else min(self.orders_reserve, self.requests_per_window - 1),
            urgent=urgent,
            lend_after=self.lend_reserve_after_seconds or None,
        )
        return PeoplevoxClient(
            base_url=self.base_url,
            client_id=self.client_id,
            username=self.username,
            password=self.password,
            requests_per_window=self.requests_per_window,
            window_seconds=self.window_seconds,
            pacer=pacer,
            # Each run is a process: runs share the tenant's session instead of authenticating
            # once each (lib/peoplevox/session_file.py: where it is kept and how it is protected).
            session_file=session_path(pacer_path),
        )


@dg.definitions
def resources() -> dg.Definitions:
    # Secrets and endpoints are EnvVars: resolved at run time, shown in the UI only as names.
    # Plain tunables are validated by settings.py (as `config check` does) and fall back to its
    # documented defaults when unset.
    sync, shopify, peoplevox = SyncSettings(), ShopifyTuning(), PeoplevoxLimits()
    return dg.Definitions(
        # Every job without its own executor, including a materialization or backfill launched
        # from the UI, runs its steps in one process, as the flows' jobs do: a process per step
        # paid a Python + Dagster start-up (~8 s each on a busy 2-core host) for I/O-bound steps.
        executor=dg.in_process_executor,
        resources={
            "ledger": LedgerResource(data_dir=str(sync.data_dir)),
            "business_rules": BusinessRulesResource(config_dir=str(sync.rules_dir)),
            "shopify": ShopifyResource(
                shop_url=dg.EnvVar("SHOPIFY_SHOP_URL"),
                access_token=dg.EnvVar("SHOPIFY_ACCESS_TOKEN"),
                api_version=shopify.api_version,
                webhook_secret=dg.EnvVar("SHOPIFY_WEBHOOK_SECRET"),
                bulk_threshold=shopify.bulk_threshold,
            ),
            "peoplevox": PeoplevoxResource(
                base_url=dg.EnvVar("PEOPLEVOX_BASE_URL"),
                client_id=dg.EnvVar("PEOPLEVOX_CLIENT_ID"),
                username=dg.EnvVar("PEOPLEVOX_USERNAME"),
                password=dg.EnvVar("PEOPLEVOX_PASSWORD"),
                requests_per_window=peoplevox.requests_per_window,
                window_seconds=peoplevox.window_seconds,
                pacer_file=str(peoplevox.pacer_file or ""),
                pacer_dir=str(sync.data_dir),
                orders_reserve=peoplevox.orders_reserve,
                lend_reserve_after_seconds=peoplevox.lend_reserve_after_seconds,
            ),
        },
    )
