"""Metadata tables keep one row per row and one cell per value, whatever text the values hold."""

from sync_pipeline.defs.markdown import count_table, rows_table


def test_pipes_and_line_breaks_stay_inside_their_cell() -> None:
    table = rows_table([("a|b", "x\r\ny"), ("back\\slash", 3)], "| one | two |\n|---|---|").value
    assert table.split("\n")[2:] == ["| a\\|b | x\\r\\ny |", "| back\\\\slash | 3 |"]
    counts = count_table(("status", "orders"), {"| fake | 99 |\nrow": 1}).value
    assert counts.split("\n")[2:] == ["| \\| fake \\| 99 \\|\\nrow | 1 |"]
