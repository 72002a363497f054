"""Putting finance's day files in place when runs overlap or die half way (`finance_exports.py`).

- Two runs over the same days (a month backfill beside the nightly run) make their files outside
  the ledger, so the one that reconciled first may be ready last. One process at a time puts files
  in place (`exports_lock`), and a day's `.made_at` says when, in the ledger, the reconciliation
  its files come from was made: older files never go over newer ones (`made_later`).
- A run's staging folder (the day Parquet files, written while the ledger is held) is locked by
  its run while it lives (`staging_folder`); a run killed before it removes its own (SIGKILL, out
  of memory) leaves it unlocked, and the next run's exports remove it (`remove_dead_staging`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

STAGING, HELD = ".staging-", ".held"  # a run's staging folder, and the lock it holds while it lives
MADE_AT = ".made_at"  # in a day folder: when the reconciliation its files come from was made
LOCK = ".lock"  # in the exports root: held while a run puts files in place


@contextmanager
def exports_lock(root: Path) -> Iterator[None]:
    """One process at a time puts files in place under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def made_later(folder: Path, made_at: datetime) -> bool:
    """Does this day folder hold files of a reconciliation made after `made_at`? (Ledger
    transactions are serialised, so a later one saw a later ledger.) None, or unreadable, is older."""
    try:
        return datetime.fromisoformat((folder / MADE_AT).read_text(encoding="utf-8")) > made_at
    except (OSError, ValueError):
        return False


def mark_made(folder: Path, made_at: datetime) -> None:
    target = folder / MADE_AT
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}")
    try:
        partial.write_text(made_at.isoformat(), encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def staging_folder(root: Path) -> Iterator[Path]:
    """A new staging folder under `root`, locked while the block runs and removed after it."""
    staging = root / f"{STAGING}{uuid.uuid4().hex[:12]}"
    lock = staging.with_name(staging.name + HELD)
    root.mkdir(parents=True, exist_ok=True)
    held = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # before the folder exists: never seen unlocked while live
        staging.mkdir()
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        lock.unlink(missing_ok=True)  # after the folder: a folder without its lock is a dead one
        os.close(held)


def remove_dead_staging(root: Path) -> None:
    """Staging folders of runs killed before they removed their own: a month of Parquet files
    each, which a BI tool globbing the folder would count twice. A live run's stays."""
    for folder in root.glob(f"{STAGING}*"):
        if not folder.is_dir():
            continue
        lock = folder.with_name(folder.name + HELD)
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:  # its lock is gone: its run ended (or was from before the locks)
            shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a live run's
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)
