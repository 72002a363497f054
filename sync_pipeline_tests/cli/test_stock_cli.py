"""`sync-pipeline stock suspects|accept` against a real ledger file, and against none."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_pipeline.cli import main
from sync_pipeline.lib.ledger import Ledger

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SYNC_CONFIG_DIR", str(REPO_ROOT / "data" / "config"))
    return tmp_path


@pytest.mark.parametrize("argv", [["stock", "suspects"], ["stock", "accept", "--by", "sam"]])
def test_a_missing_ledger_is_refused_and_not_created(
    data_dir: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert f"no ledger at {data_dir / 'ledger.duckdb'}" in captured.err and "SYNC_DATA_DIR" in captured.err
    assert "nothing" not in captured.out and "no stock snapshot" not in captured.out
    assert list(data_dir.iterdir()) == []


def test_an_existing_ledger_with_nothing_waiting(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Ledger(data_dir / "ledger.duckdb").migrate()  # the file the receiver creates
    assert main(["stock", "suspects"]) == 0
    assert "no stock snapshot is waiting to be accepted" in capsys.readouterr().out
    assert main(["stock", "accept", "--by", "sam"]) == 1
    assert "not accepted:" in capsys.readouterr().err
