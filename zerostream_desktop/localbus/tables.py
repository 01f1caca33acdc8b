"""Local Delta tables under the data folder, addressed by three-part names (catalog.schema.table)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from zerostream_desktop.core import paths, schema

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
        path = self.path(full_name)
        if self.exists(full_name):
            return False
        path.mkdir(parents=True, exist_ok=True)
        DeltaTable.create(
            str(path),
            schema.arrow_schema(),
            mode="ignore",
            partition_by=[schema.PARTITION_COLUMN],
            name=full_name,
            description=schema.TABLE_COMMENT,
            configuration=TABLE_CONFIGURATION,
        )
        log.info("created table %s at %s", full_name, path)
        return True

    def open(self, full_name: str) -> DeltaTable:
        if not self.exists(full_name):
            raise UnknownTableError(f"table {full_name} does not exist")
        try:
            return DeltaTable(str(self.path(full_name)))
        except TableNotFoundError:
            raise UnknownTableError(f"table {full_name} does not exist") from None

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
