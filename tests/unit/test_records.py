"""Records are copies of rows: each record type has exactly its table's columns, in their order."""

from __future__ import annotations

import pytest

from engine.storage.models import Case, Delivery, Task, User
from engine.storage.records import CaseRecord, DeliveryRecord, TaskRecord, UserRecord, columns, from_row, values


@pytest.mark.parametrize("record_type, model", [(CaseRecord, Case), (TaskRecord, Task), (DeliveryRecord, Delivery),
                                                (UserRecord, User)])
def test_a_record_type_has_its_tables_columns_in_order(record_type: type, model: type) -> None:
    """Read a row by position into its record (``from_row``), so the orders must agree."""
    assert columns(record_type) == tuple(column.key for column in model.__table__.columns)


def test_a_record_reads_a_row_and_gives_back_its_values() -> None:
    """Turn a row into a record and the record into its values."""
    row = tuple(range(len(columns(UserRecord))))
    record = from_row(UserRecord, row)
    assert tuple(values(record).values()) == row and record.username == 1
