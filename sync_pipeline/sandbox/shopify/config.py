"""Settings for one sandbox instance: credentials, plan (bucket), faults and webhook delivery."""

from __future__ import annotations

from pydantic import BaseModel, Field

# Plan -> (bucket size, restore rate per second). Restore rates are Shopify's published
# figures; bucket sizes are the observed ~20 x restore rate (see reference/shopify/API.md §2).
PLANS: dict[str, tuple[float, float]] = {
    "standard": (2000.0, 100.0),
    "advanced": (4000.0, 200.0),
    "plus": (20000.0, 1000.0),
    "enterprise": (40000.0, 2000.0),
}


# The shop the sandbox plays (webhooks name it in X-Shopify-Shop-Domain): the demo, the rehearsal and
# the tests configure the receiver with it (SHOPIFY_SHOP_DOMAIN).
SANDBOX_SHOP_DOMAIN = "sandbox-store.myshopify.com"


class FaultSettings(BaseModel):
    """Chaos applied to the Admin API (never to the control API) and to webhook delivery."""

    latency_ms: float = Field(0.0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1, description="share of Admin API calls answered 503")
    timeout_rate: float = Field(0.0, ge=0, le=1, description="share of calls that hang, then 504")
    timeout_seconds: float = Field(10.0, ge=0)
    rate_limit_429_next: int = Field(
        0, ge=0, description="answer the next N Admin API calls HTTP 429 with Retry-After (counts down)"
    )
    retry_after_seconds: float = Field(2.0, ge=0, description="the Retry-After those 429s carry")
    spend_bucket_before: dict[str, int] = Field(
        default_factory=dict,
        description="operation name -> N: before each of the next N calls of that operation another "
        "reader (finance, at a peak) spends the whole cost bucket, so the call is THROTTLED by the "
        "bucket as Shopify would throttle it (counts down)",
    )
    lose_answer_next: int = Field(
        0, ge=0, description="apply the next N mutations, then hold the answer and fail it 504 (counts down)"
    )
    lose_answer_seconds: float = Field(0.0, ge=0, description="how long a lost answer is held before the 504")
    same_second_updates: bool = Field(
        False,
        description="changes within one second keep the order's updatedAt, as Shopify's one-second "
        "resolution does (off: every change moves updatedAt on by at least a second)",
    )
    webhook_drop_rate: float = Field(0.0, ge=0, le=1)
    webhook_duplicate_rate: float = Field(0.0, ge=0, le=1)
    webhook_duplicate_fresh_id_rate: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "share of duplicates sent as a new delivery (fresh X-Shopify-Webhook-Id, same "
            "X-Shopify-Event-Id); the rest repeat the delivery with the same webhook id"
        ),
    )
    bulk_fail_next: int = Field(
        0, ge=0, description="fail the next N bulk operations part way (counts down); see bulk_fail_code"
    )
    bulk_fail_code: str = Field(
        "INTERNAL_SERVER_ERROR",
        pattern="^(INTERNAL_SERVER_ERROR|TIMEOUT|ACCESS_DENIED)$",
        description="the BulkOperation.errorCode those failures carry",
    )
    bulk_fail_after_roots: int = Field(
        0, ge=0, description="root objects written before such a failure (the partial data)"
    )
    refuse_tracking_numbers: list[str] = Field(
        default_factory=list,
        description="fulfillmentTrackingInfoUpdate answers a userError, changing nothing, when its "
        "input holds one of these numbers (Shopify refusing a carrier's number)",
    )
    seed: int | None = None


class ShopifySandboxConfig(BaseModel):
    access_token: str = "shpat_sandbox"
    webhook_secret: str = "sandbox-webhook-secret"
    shop_domain: str = SANDBOX_SHOP_DOMAIN  # sent as X-Shopify-Shop-Domain on every webhook
    shop_name: str = "Sandbox Store"
    currency: str = "GBP"
    plan: str = "standard"
    bucket_size: float | None = None  # overrides the plan's bucket
    restore_rate: float | None = None  # overrides the plan's restore rate
    max_query_cost: int = 1000
    faults: FaultSettings = Field(default_factory=FaultSettings)
    # Shopify retries 8 times over 4 hours; the sandbox keeps the shape on a short clock.
    webhook_max_attempts: int = 5
    webhook_retry_base_seconds: float = 0.2
    webhook_timeout_seconds: float = 5.0
    default_location_names: list[str] = Field(default_factory=lambda: ["Warehouse"])
    # Bulk operations (bulk.py): running at once per app, result URL lifetime, export pace.
    bulk_concurrency: int = Field(1, ge=1, le=5)
    bulk_url_ttl_seconds: float = 7 * 24 * 3600.0
    bulk_objects_per_second: float | None = Field(None, gt=0)

    def bucket(self) -> tuple[float, float]:
        if self.plan not in PLANS:
            raise ValueError(f"unknown plan {self.plan!r}; choose one of {sorted(PLANS)}")
        size, rate = PLANS[self.plan]
        return (self.bucket_size or size, self.restore_rate or rate)
