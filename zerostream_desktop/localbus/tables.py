"""Local Delta tables under the data folder, addressed by three-part names (catalog.schema.table)."""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from zerostream_desktop.core import paths, schema
from zerostream_desktop.core.delta_health import diagnose

log = logging.getLogger(__name__)

# Keep the log and tombstones short-lived so a day of streaming stays as fast to open as a fresh
# table (see FIELD_NOTES: upkeep needs short retention to stay flat).
TABLE_CONFIGURATION = {
    "delta.enableChangeDataFeed": "true",
    "delta.logRetentionDuration": "interval 1 days",
    "delta.deletedFileRetentionDuration": "interval 1 hours",
    "delta.checkpointInterval": "100",
    "delta.dataSkippingStatsColumns": "connection_id,event_timestamp,event_date,ingested_at",
}


class UnknownTableError(LookupError):
    pass


class DamagedTableError(RuntimeError):
    """A table whose log or data is damaged; the message names the file and what to do."""


class TableDefinitionError(ValueError):
    """A column list localbus cannot make a table of; the message names the column and what it can write."""


_TYPE_ALIASES = {"LONG": "BIGINT", "INTEGER": "INT"}
_COLUMN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z]+)\s*(NOT\s+NULL)?\s*$", re.IGNORECASE)


def parse_columns(text: str) -> pa.Schema:
    """`"device_name STRING NOT NULL, temp INT, humidity BIGINT"` as an Arrow schema, in Databricks SQL types."""
    supported = ", ".join(t.value for t in schema.ColumnType)
    fields: list[pa.Field] = []
    for part in text.split(","):
        if not part.strip():
            raise TableDefinitionError("an empty column in --columns (two commas in a row?)")
        m = _COLUMN.match(part)
        if not m:
            raise TableDefinitionError(f"cannot read column {part.strip()!r}: write it as NAME TYPE [NOT NULL]")
        name, type_name, not_null = m.group(1), m.group(2).upper(), bool(m.group(3))
        type_name = _TYPE_ALIASES.get(type_name, type_name)
        try:
            column_type = schema.ColumnType(type_name)
        except ValueError:
            raise TableDefinitionError(
                f"column {name}: localbus cannot write {type_name} columns; it writes {supported}"
            ) from None
        if name in {f.name for f in fields}:
            raise TableDefinitionError(f"column {name} appears twice")
        fields.append(pa.field(name, schema.arrow_type(column_type), nullable=not not_null))
    return pa.schema(fields)


@dataclass(frozen=True)
class TableInfo:
    name: str
    path: Path
    version: int
    files: int
    rows: int


class TableCatalog:
    """The tables of one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "tables"

    def path(self, full_name: str) -> Path:
        return paths.local_table_path(self.root.parent, full_name)

    def exists(self, full_name: str) -> bool:
        return (self.path(full_name) / "_delta_log").is_dir()

    def create_sensor_table(self, full_name: str) -> bool:
        """Create the sensor table if missing; True when it was created. Never replaces a table."""
        return self.create_table(full_name, schema.arrow_schema(), [schema.PARTITION_COLUMN], schema.TABLE_COMMENT)

    def create_table(
        self, full_name: str, table_schema: pa.Schema, partition_by: list[str] | None = None, description: str = ""
    ) -> bool:
        """Create a table of any columns if missing; True when it was created. Never replaces a table."""
        schema.split_table_name(full_name)
        for column in partition_by or []:
            if column not in table_schema.names:
                raise TableDefinitionError(f"cannot partition by {column}: the table has no such column")
        path = self.path(full_name)
        if self.exists(full_name):
            return False
        path.mkdir(parents=True, exist_ok=True)
        configuration = dict(TABLE_CONFIGURATION)
        if table_schema != schema.arrow_schema():  # those statistics columns are the sensor table's
            configuration.pop("delta.dataSkippingStatsColumns")
        DeltaTable.create(
            str(path), table_schema, mode="ignore", partition_by=partition_by or None, name=full_name,
            description=description, configuration=configuration,
        )  # fmt: skip
        log.info("created table %s at %s", full_name, path)
        return True

    def drop_table(self, full_name: str) -> None:
        """Delete a table and its data (the caller asks the user first)."""
        if not self.exists(full_name):
            raise UnknownTableError(f"table {full_name} does not exist")
        shutil.rmtree(self.path(full_name))
        log.info("dropped table %s", full_name)

    def open(self, full_name: str) -> DeltaTable:
        if not self.exists(full_name):
            raise UnknownTableError(f"table {full_name} does not exist")
        try:
            return DeltaTable(str(self.path(full_name)))
        except TableNotFoundError:
            raise UnknownTableError(f"table {full_name} does not exist") from None
        except Exception as exc:  # a damaged log: say which file and what to do, write nothing
            problem = diagnose(self.path(full_name)) or str(exc).splitlines()[0]
            raise DamagedTableError(f"table {full_name} is damaged: {problem}") from None

    def arrow_schema(self, full_name: str) -> pa.Schema:
        return pa.schema(self.open(full_name).schema().to_arrow())

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        found = []
        for log_dir in sorted(self.root.glob("*/*/*/_delta_log")):
            table_dir = log_dir.parent
            found.append(".".join(table_dir.relative_to(self.root).parts))
        return found

    def describe(self, full_name: str) -> TableInfo:
        table = self.open(full_name)
        actions = pa.table(table.get_add_actions(flatten=True))
        rows = int(pa.compute.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0
        return TableInfo(full_name, self.path(full_name), table.version(), actions.num_rows, rows)
