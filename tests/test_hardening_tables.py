"""Tables are bounded like charts (issue 20 §1): a page shows at most payload.TABLE_ROWS rows
of a table, evenly spread, and says so; the downloads keep every row. The dynamics page with
four pins of two algorithms × 4096 runs sent a 4.9 MB table, growing past the 10 MB bound
with more algorithms (up to 9 a spec)."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.report.payload import TABLE_ROWS

pytestmark = pytest.mark.slow


def table_script(count: int) -> AppTest:
    def script(count):
        from ui.display import table

        table([{"run": index, "loss": index * 0.5} for index in range(count)])
    return AppTest.from_function(script, args=(count,), default_timeout=30)


def shown_rows(at: AppTest) -> int:
    return len(at.dataframe[0].value)


def test_a_long_table_shows_at_most_table_rows_and_says_so():
    at = table_script(5 * TABLE_ROWS + 3).run()
    assert not at.exception
    assert shown_rows(at) == TABLE_ROWS
    assert at.dataframe[0].value["run"].iloc[-1] == 5 * TABLE_ROWS + 2     # the last row kept
    assert any("rows shown" in caption.value for caption in at.caption)


def test_a_short_table_is_shown_whole_without_a_note():
    at = table_script(TABLE_ROWS).run()
    assert shown_rows(at) == TABLE_ROWS and not at.caption
