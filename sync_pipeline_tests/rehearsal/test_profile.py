"""The rehearsal's store profile: flags over the file over the defaults; bad input named."""

from pathlib import Path

import pytest

from sync_pipeline.rehearsal.profile import FAULT_NAMES, default_faults, load_profile, parse_fault_list


def test_defaults_are_issue_13s_settings() -> None:
    profile = load_profile(None)
    assert (profile.shopify_plan, profile.pvx_requests_per_window, profile.pvx_window_seconds) == (
        "plus",
        15,
        15.0,
    )
    assert (profile.hold_seconds, profile.minutes, profile.orders_per_minute) == (30, 5.0, 1500.0)
    assert {f.fault for f in profile.schedule()} == set(FAULT_NAMES)  # every fault once, in the sale
    assert all(0 < f.at < profile.sale_seconds for f in profile.schedule())


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "store.yaml"
    path.write_text("shopify_plan: standard\norders_per_minute: 300\nfloor_seconds: [1, 2, 3, 4]\n")
    profile = load_profile(path, orders_per_minute=120.0, minutes=None)
    assert (profile.shopify_plan, profile.orders_per_minute, profile.floor_seconds) == (
        "standard",
        120.0,
        (1, 2, 3, 4),
    )


def test_bad_profiles_name_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "store.yaml"
    path.write_text("orders_per_minut: 300\n")
    with pytest.raises(ValueError, match=r"(?s)store\.yaml.*orders_per_minut"):
        load_profile(path)
    path.write_text("- 1\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        load_profile(path)
    with pytest.raises(ValueError, match="shopify_plan 'gold'"):
        load_profile(None, shopify_plan="gold")


def test_fault_lists() -> None:
    assert parse_fault_list("none", 60) == []
    assert parse_fault_list("all", 60) == default_faults(60)
    faults = parse_fault_list("throttled@5,restart_daemon", 60)
    assert [(f.fault, f.at) for f in faults] == [("throttled", 5.0), ("restart_daemon", 30.0)]
    with pytest.raises(ValueError, match="unknown fault 'meteor'"):
        parse_fault_list("meteor@3", 60)
    with pytest.raises(ValueError, match="must be seconds"):
        parse_fault_list("throttled@soon", 60)
