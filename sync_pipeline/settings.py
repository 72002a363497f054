"""Connection settings, read from environment variables only.

Secrets are `SecretStr`: they print as `**********` in reprs, logs and `config check`, and are
never written to the ledger. Business rules (SKU overrides, bundles, routing…) are not here:
they are data files in `data/config/` (see `sync_pipeline.lib.domain`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from sync_pipeline.lib.peoplevox.pacer import RequestPacer

API_VERSION_PATTERN = re.compile(r"^\d{4}-(01|04|07|10)$")
# A brand name is an asset-key prefix, a pool prefix, a code location name and (in Kubernetes and
# compose) part of a service name, so it must be valid in all of them: a DNS label, kept short.
BRAND_PATTERN = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")
REPO_ROOT = Path(__file__).resolve().parent.parent


def _check_http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"must be an http(s) URL such as https://example.com, got {value!r}")
    return value.rstrip("/")


# The product's flows, as SYNC_FLOWS names them (each is a group of assets with its own automation).
FLOWS = ("orders", "despatches", "stock", "finance", "operations", "catalogue")

# The token is the only thing authenticating a Peoplevox callback; 32 characters of
# `secrets.token_urlsafe` carry 192 bits, far beyond guessing over HTTP.
MIN_CALLBACK_TOKEN_LENGTH = 32


def check_callback_token(token: str) -> str:
    """The token unchanged, or ValueError saying why it is too weak (never echoing it)."""
    if len(token) < MIN_CALLBACK_TOKEN_LENGTH:
        raise ValueError(
            f"must be at least {MIN_CALLBACK_TOKEN_LENGTH} characters (got {len(token)}); "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token


class ShopifyTuning(BaseSettings):
    """Shopify tunables with documented defaults: what the code location needs besides the secrets."""

    model_config = SettingsConfigDict(env_prefix="SHOPIFY_", extra="ignore")

    api_version: str = Field(default="2026-10", description="Admin API version, YYYY-MM")
    bulk_threshold: int = Field(
        default=2500,
        ge=0,
        description=(
            "Reads of at least this many orders or variants (a backfill, a full catalogue read) use a "
            "bulk operation, off the query-cost bucket; 0 turns bulk operations off"
        ),
    )

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if not API_VERSION_PATTERN.match(value):
            raise ValueError(f"must be a quarterly version YYYY-MM (01, 04, 07, 10), got {value!r}")
        return value


class ShopifySettings(ShopifyTuning):
    """Shopify Admin API connection (a custom app's Admin API access token)."""

    shop_url: str = Field(description="Store admin base URL, e.g. https://brand.myshopify.com")
    access_token: SecretStr = Field(description="Admin API access token (shpat_…)")
    webhook_secret: SecretStr = Field(description="App client secret used to sign webhooks (HMAC-SHA256)")
    shop_domain: str | None = Field(
        default=None,
        description=(
            "The shop's permanent domain (brand.myshopify.com), which every webhook names in "
            "X-Shopify-Shop-Domain; default: SHOPIFY_SHOP_URL's host when it is a myshopify.com one"
        ),
    )

    _url = field_validator("shop_url")(_check_http_url)

    def webhook_shop_domain(self) -> str:
        """The shop the receiver accepts webhooks from (ValueError naming the setting if unknown)."""
        if self.shop_domain and self.shop_domain.strip():
            return self.shop_domain.strip().lower()
        host = (urlsplit(self.shop_url).hostname or "").lower()
        if host.endswith(".myshopify.com"):
            return host
        raise ValueError(
            f"SHOPIFY_SHOP_DOMAIN is not set and SHOPIFY_SHOP_URL's host {host!r} is not a myshopify.com"
            " domain: set it to the shop's permanent domain (brand.myshopify.com), the one its webhooks"
            " name in X-Shopify-Shop-Domain"
        )

    @field_validator("webhook_secret")
    @classmethod
    def _secret_set(cls, value: SecretStr) -> SecretStr:
        # An empty key is one anyone can sign with: refuse it here, not at the first webhook.
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty (the app's client secret signs every webhook)")
        return value


class PeoplevoxLimits(BaseSettings):
    """Peoplevox request limiter, with documented defaults (match your tenant's limit)."""

    model_config = SettingsConfigDict(env_prefix="PEOPLEVOX_", extra="ignore")

    requests_per_window: int = Field(default=15, ge=1, description="Request limiter: requests per window")
    window_seconds: float = Field(default=15.0, gt=0, description="Request limiter: window length in seconds")
    orders_reserve: int = Field(
        default=3,
        ge=0,
        description="Slots of the window every flow but orders (release, status) leaves free for it",
    )
    lend_reserve_after_seconds: float = Field(
        default=15.0,
        ge=0,
        description="Other flows may use the orders reserve once no release or status request has asked "
        "for a slot for this long (0: never lend)",
    )
    pacer_file: Path | None = Field(
        default=None,
        description="File every process of the tenant paces through (default: DATA_DIR/peoplevox-<client id>.pacer.json)",
    )

    @model_validator(mode="after")
    def _reserve_below_limit(self) -> PeoplevoxLimits:
        if self.orders_reserve >= self.requests_per_window:
            raise ValueError(
                f"PEOPLEVOX_ORDERS_RESERVE ({self.orders_reserve}) must be below "
                f"PEOPLEVOX_REQUESTS_PER_WINDOW ({self.requests_per_window}): other flows need a slot"
            )
        return self


class PeoplevoxSettings(PeoplevoxLimits):
    """Peoplevox Integration Service connection."""

    base_url: str = Field(description="Service root, e.g. https://qac.peoplevox.net")
    client_id: str = Field(min_length=1, description="Peoplevox client id (first path segment)")
    username: str = Field(min_length=1, description="Integration user name")
    password: SecretStr = Field(description="Integration user password")

    _url = field_validator("base_url")(_check_http_url)

    def shared_pacer(self, data_dir: Path, urgent: bool = False) -> RequestPacer:
        """The tenant's pacer every process shares (lib/peoplevox/pacer.py); a CLI is not urgent."""
        from sync_pipeline.lib.peoplevox.pacer import RequestPacer, tenant_file

        return RequestPacer(
            self.requests_per_window,
            self.window_seconds,
            path=tenant_file(data_dir, self.client_id, self.pacer_file),
            keep_free=0 if urgent else self.orders_reserve,
            urgent=urgent,
            lend_after=self.lend_reserve_after_seconds or None,
        )


class SyncSettings(BaseSettings):
    """Where the product keeps its state and how inbound events reach it."""

    model_config = SettingsConfigDict(env_prefix="SYNC_", extra="ignore")

    brand: str | None = Field(
        default=None,
        description="Brand this code location serves when one deployment runs several (docs/deploy.md)",
    )
    data_dir: Path = Field(default=REPO_ROOT / "data", description="Ledger, inbox and exports")
    config_dir: Path | None = Field(default=None, description="Business rules (default: DATA_DIR/config)")
    callback_token: SecretStr | None = Field(
        default=None,
        description=f"Secret token expected in Peoplevox callback URLs (at least {MIN_CALLBACK_TOKEN_LENGTH} characters)",
    )
    receiver_public_url: str = Field(
        default="http://127.0.0.1:8703", description="URL at which Shopify/Peoplevox reach the receiver"
    )
    flows: str = Field(
        default="all",
        description=(
            "Flows whose sensors and schedules start running when the location first loads: 'all', "
            f"'none', or a comma-separated list of {', '.join(FLOWS)} (e.g. a brand that keeps stock "
            "elsewhere); alert sensors always run"
        ),
    )

    _url = field_validator("receiver_public_url")(_check_http_url)

    @field_validator("flows")
    @classmethod
    def _flows(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        if names == ["all"] or not names:
            return "all"
        if names == ["none"]:
            return "none"  # deployed paused: every flow started by hand in the UI
        unknown = [name for name in names if name not in FLOWS]
        if unknown:
            raise ValueError(
                f"names unknown flow(s) {', '.join(map(repr, unknown))}; known: all, none, {', '.join(FLOWS)}"
            )
        return ",".join(names)

    def automates(self, flow: str) -> bool:
        """Whether `flow`'s sensors and schedules start running (SYNC_FLOWS)."""
        assert flow in FLOWS, flow
        return self.flows == "all" or flow in self.flows.split(",")

    @field_validator("callback_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_callback_token(value.get_secret_value())
        return value

    @field_validator("brand")
    @classmethod
    def _brand(cls, value: str | None) -> str | None:
        if not value:
            return None  # SYNC_BRAND= (empty) is the single-brand default, as if unset
        if not BRAND_PATTERN.match(value):
            raise ValueError(
                f"must be lowercase letters, digits and '-', starting with a letter, at most 32 characters, got {value!r}"
            )
        return value

    @property
    def rules_dir(self) -> Path:
        return self.config_dir or self.data_dir / "config"

    @property
    def ledger_path(self) -> Path:
        return self.data_dir / "ledger.duckdb"

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"


class AlertSettings(BaseSettings):
    """Where alerts go (docs/operations.md): Slack when a token and channel are set, and/or any webhook."""

    model_config = SettingsConfigDict(env_prefix="SYNC_ALERT_", extra="ignore")

    slack_token: SecretStr | None = Field(default=None, description="Slack bot token (xoxb-…) to post alerts")
    slack_channel: str | None = Field(default=None, description="Slack channel for alerts, e.g. #ops-alerts")
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        description="Slack Web API base URL (a proxy, or a local test server)",
    )
    webhook_url: SecretStr | None = Field(
        default=None,
        description="Any HTTP(S) URL that takes a JSON POST (Teams, PagerDuty bridge…); may embed a key",
    )
    digest_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="At most one digest per this many minutes"
    )

    _url = field_validator("slack_api_url")(_check_http_url)

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if (
            value is not None
            and value.get_secret_value()
            and not re.match(r"^https?://[^\s/]+", value.get_secret_value())
        ):
            raise ValueError("must be an http(s) URL (not shown: it may carry a key)")
        return value if value is not None and value.get_secret_value() else None

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_token and self.slack_token.get_secret_value() and self.slack_channel)


SETTINGS_CLASSES: dict[str, type[BaseSettings]] = {
    "shopify": ShopifySettings,
    "peoplevox": PeoplevoxSettings,
    "sync": SyncSettings,
    "alerts": AlertSettings,
}


def env_name(section: type[BaseSettings], field: str) -> str:
    return f"{section.model_config.get('env_prefix', '')}{field}".upper()


def describe_problems(section: type[BaseSettings], error: ValidationError) -> list[str]:
    """Turn a pydantic error into lines that name the environment variable and what is wrong."""
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        reason = "is not set" if item["type"] == "missing" else item["msg"].removeprefix("Value error, ")
        problems.append(f"{env_name(section, field)} {reason}")
    return problems


def load_all(environ: dict[str, str] | None = None) -> tuple[dict[str, BaseSettings], list[str]]:
    """Load every settings section; returns what loaded and the problems found (never raises)."""
    loaded: dict[str, BaseSettings] = {}
    problems: list[str] = []
    for name, cls in SETTINGS_CLASSES.items():
        try:
            loaded[name] = _from_environ(cls, environ)
        except ValidationError as error:
            problems.extend(describe_problems(cls, error))
    shopify = loaded.get("shopify")
    if isinstance(shopify, ShopifySettings):
        try:
            shopify.webhook_shop_domain()  # the receiver refuses to start without it
        except ValueError as error:
            problems.append(str(error))
    return loaded, problems


def _from_environ(cls: type[BaseSettings], environ: dict[str, str] | None) -> BaseSettings:
    if environ is None:
        return cls()
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    values: dict[str, Any] = {
        key[len(prefix) :].lower(): value for key, value in environ.items() if key.upper().startswith(prefix)
    }
    return cls.model_validate(values)
