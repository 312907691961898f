import logging

import pytest

from retrain_advisor.foundation.config import OutputConfig
from retrain_advisor.outputs.store import CONFLICTS, CREATION_RACES, ResultStore, is_conflict


class ConcurrentAppendException(Exception):
    """Stands for the exception pyspark raises from Delta's Java class of that name."""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConcurrentAppendException("Files were added to the root of the table by a concurrent update"), True),
        (RuntimeError("[DELTA_CONCURRENT_WRITE] ConcurrentWriteException: A concurrent transaction has written"), True),
        (RuntimeError("io.delta.exceptions.ProtocolChangedException: The protocol version changed"), True),
        (RuntimeError("[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table"), True),
        (RuntimeError("[PATH_NOT_FOUND] Path does not exist"), False),
        (PermissionError("Permission denied"), False),
    ],
)
def test_only_lost_races_are_retried(error, expected):
    assert is_conflict(error) is expected


def test_a_table_folder_mid_creation_is_retried_only_while_creating():
    error = RuntimeError(
        "[DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION] Cannot create table ('`delta`.`/out/runs`'). "
        "The associated location ('/out/runs') is not empty and also not a Delta table."
    )
    assert not is_conflict(error)
    assert is_conflict(error, CONFLICTS + CREATION_RACES)


def test_a_lost_race_is_retried_and_the_log_names_the_table(caplog):
    store = ResultStore(None, OutputConfig(path="/out"))
    attempts = []

    def create() -> None:
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise ConcurrentAppendException("Files were added to the root of the table by a concurrent update")

    with caplog.at_level(logging.INFO, logger="retrain_advisor.outputs.store"):
        store.retried("table delta.`/out/fits`", create)
    assert attempts == [0, 1]
    assert "a concurrent writer changed table delta.`/out/fits`; retrying (1/5)" in caplog.text


def test_an_error_that_is_not_a_race_is_raised_at_once():
    store = ResultStore(None, OutputConfig(path="/out"))
    attempts = []

    def create() -> None:
        attempts.append(len(attempts))
        raise PermissionError("Permission denied: /out/fits")

    with pytest.raises(PermissionError):
        store.retried("table delta.`/out/fits`", create)
    assert attempts == [0]


def test_tables_are_named_for_sql():
    by_path = ResultStore(None, OutputConfig(path="/data/with`tick"))
    assert by_path.reference("runs") == "delta.`/data/with``tick/runs`"
    assert by_path.describe() == "output.path /data/with`tick"
    by_schema = ResultStore(None, OutputConfig(schema="main.advisor"))
    assert by_schema.reference("fits") == "`main`.`advisor`.fits"
    hyphenated = ResultStore(None, OutputConfig(schema="my-catalog.`ml.results`"))
    assert hyphenated.reference("runs") == "`my-catalog`.`ml.results`.runs"
