"""The query suite, written once in Databricks SQL, with its DuckDB and PostgreSQL forms.

Databricks SQL is the source: a SQL warehouse runs it as written; DuckDB (the local engine and the
workspace emulator) runs sqlglot's translation of it; PostgreSQL (Lakebase) has its own text,
because sqlglot leaves UNIX_MICROS and QUALIFY untranslated there, and because a Lakebase synced
table already holds one row per event_id. Every value is a named parameter (`:name`); the only
thing formatted into the text is the table name, which is checked and quoted first.

Every query reads the events as `model` defines them: each event once, at its latest landing, and
none of `zerostream verify`'s probe events (their connection ids start with PROBE_PREFIX).
"""

from __future__ import annotations

from functools import cache

import sqlglot

from zerostream_desktop.core import schema

PROBE_PREFIX = "zerostream-probe-"  # `zerostream verify` streams under such ids; no dashboard shows them
NOT_PROBE = f"connection_id NOT LIKE '{PROBE_PREFIX}%'"


def _source(table: str, not_probe: str = NOT_PROBE) -> str:
    return f"(SELECT * FROM {table} WHERE {not_probe}) AS events_src"

# One row per event: its latest landing, i.e. its latest send (`ingested_at` is the sender's stamp; a row
# another producer wrote without one comes last: every engine here is told NULLS LAST explicitly, since
# PostgreSQL and Spark differ on the default for DESC).
_LATEST_LANDING = "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ingested_at DESC NULLS LAST) = 1"

KPIS = f"""
WITH events AS (
  SELECT event_id, connection_id, payload_bytes, event_timestamp, ingested_at
  FROM {{table}}
  {_LATEST_LANDING}
)
SELECT
  count(*),
  count(DISTINCT connection_id),
  coalesce(sum(payload_bytes), 0),
  count(DISTINCT CASE WHEN ingested_at >= :active_since THEN connection_id END),
  count(CASE WHEN ingested_at >= :minute_since THEN 1 END),
  coalesce(sum(CASE WHEN ingested_at >= :minute_since THEN payload_bytes END), 0),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY
    CASE WHEN ingested_at >= :minute_since THEN unix_micros(ingested_at) - unix_micros(event_timestamp) END),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY
    CASE WHEN ingested_at >= :minute_since THEN unix_micros(ingested_at) - unix_micros(event_timestamp) END),
  max(ingested_at)
FROM events
"""

CLIENTS = f"""
WITH events AS (
  SELECT event_id, connection_id, device_name, event_timestamp, ingested_at, payload_bytes,
         latitude, longitude, battery_pct, signal_strength, speed_kmh
  FROM {{table}}
  {_LATEST_LANDING}
),
latest AS (
  SELECT connection_id, device_name, latitude, longitude, battery_pct, signal_strength, speed_kmh
  FROM events
  QUALIFY row_number() OVER (PARTITION BY connection_id ORDER BY event_timestamp DESC, event_id DESC) = 1
),
totals AS (
  SELECT connection_id, count(*) AS events, coalesce(sum(payload_bytes), 0) AS bytes,
         min(event_timestamp) AS first_seen, max(ingested_at) AS last_seen
  FROM events
  GROUP BY connection_id
)
SELECT t.connection_id, l.device_name, t.events, t.bytes, t.first_seen, t.last_seen,
       l.latitude, l.longitude, l.battery_pct, l.signal_strength, l.speed_kmh
FROM totals AS t JOIN latest AS l ON l.connection_id = t.connection_id
ORDER BY t.connection_id
"""

# The latest `limit` points, then downsampled to `max_points`: the first, the last, and one per
# step of (n - 1) / (max_points - 1) between them (model.keep_indices is the same rule).
TRACK = f"""
WITH pts AS (
  SELECT event_id, event_timestamp, latitude, longitude, speed_kmh, heading_deg, battery_pct
  FROM {{table}}
  WHERE connection_id = :connection_id AND latitude IS NOT NULL AND longitude IS NOT NULL
  {_LATEST_LANDING}
),
newest AS (
  SELECT *, row_number() OVER (ORDER BY event_timestamp DESC, event_id DESC) AS r FROM pts
),
win AS (
  SELECT *, count(*) OVER () AS n, row_number() OVER (ORDER BY event_timestamp, event_id) - 1 AS i
  FROM newest WHERE r <= :track_limit
)
SELECT event_timestamp, latitude, longitude, speed_kmh, heading_deg, battery_pct, n
FROM win
WHERE n <= :max_points
   OR floor(i * (:max_points - 1) / (n - 1)) > floor((i - 1) * (:max_points - 1) / (n - 1))
ORDER BY event_timestamp
"""

SERIES = f"""
WITH recent AS (
  SELECT event_id, ingested_at, payload_bytes
  FROM {{table}}
  WHERE ingested_at >= :since
  {_LATEST_LANDING}
)
SELECT date_trunc('SECOND', ingested_at) AS second, count(*), coalesce(sum(payload_bytes), 0)
FROM recent
GROUP BY 1
ORDER BY 1
"""

# The raw stream: rows as they landed (resends included), newest event first, one page of them.
EVENT_COLUMNS = (
    "event_id", "connection_id", "device_name", "event_timestamp", "ingested_at", "latitude", "longitude",
    "speed_kmh", "heading_deg", "battery_pct", "signal_strength", "payload_bytes", "zerobus_offset",
)  # fmt: skip
_EVENT_ORDER = "event_timestamp DESC, event_id DESC, ingested_at DESC NULLS LAST"
EVENTS = f"""
SELECT {", ".join(EVENT_COLUMNS)}
FROM {{table}}
QUALIFY row_number() OVER (ORDER BY {_EVENT_ORDER}) BETWEEN :offset + 1 AND :offset + :limit
ORDER BY {_EVENT_ORDER}
"""
CLIENT_EVENTS = f"""
SELECT {", ".join(EVENT_COLUMNS)}
FROM {{table}}
WHERE connection_id = :connection_id
QUALIFY row_number() OVER (ORDER BY {_EVENT_ORDER}) BETWEEN :offset + 1 AND :offset + :limit
ORDER BY {_EVENT_ORDER}
"""

QUERIES = {"kpis": KPIS, "clients": CLIENTS, "track": TRACK, "series": SERIES, "events": EVENTS,
           "client_events": CLIENT_EVENTS}  # fmt: skip

# --- PostgreSQL (Lakebase synced table: one row per event_id already) ------------------------

PG_KPIS = """
SELECT
  count(*),
  count(DISTINCT connection_id),
  coalesce(sum(payload_bytes), 0),
  count(DISTINCT connection_id) FILTER (WHERE ingested_at >= %(active_since)s),
  count(*) FILTER (WHERE ingested_at >= %(minute_since)s),
  coalesce(sum(payload_bytes) FILTER (WHERE ingested_at >= %(minute_since)s), 0),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY (extract(epoch FROM ingested_at - event_timestamp) * 1000000)::float8)
    FILTER (WHERE ingested_at >= %(minute_since)s),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY (extract(epoch FROM ingested_at - event_timestamp) * 1000000)::float8)
    FILTER (WHERE ingested_at >= %(minute_since)s),
  max(ingested_at)
FROM {table}
"""

PG_CLIENTS = """
WITH latest AS (
  SELECT DISTINCT ON (connection_id)
         connection_id, device_name, latitude, longitude, battery_pct, signal_strength, speed_kmh
  FROM {table}
  ORDER BY connection_id, event_timestamp DESC, event_id COLLATE "C" DESC
),
totals AS (
  SELECT connection_id, count(*) AS events, coalesce(sum(payload_bytes), 0) AS bytes,
         min(event_timestamp) AS first_seen, max(ingested_at) AS last_seen
  FROM {table}
  GROUP BY connection_id
)
SELECT t.connection_id, l.device_name, t.events, t.bytes, t.first_seen, t.last_seen,
       l.latitude, l.longitude, l.battery_pct, l.signal_strength, l.speed_kmh
FROM totals AS t JOIN latest AS l ON l.connection_id = t.connection_id
ORDER BY t.connection_id COLLATE "C"
"""

PG_TRACK = """
WITH newest AS (
  SELECT event_id, event_timestamp, latitude, longitude, speed_kmh, heading_deg, battery_pct
  FROM {table}
  WHERE connection_id = %(connection_id)s AND latitude IS NOT NULL AND longitude IS NOT NULL
  ORDER BY event_timestamp DESC, event_id COLLATE "C" DESC
  LIMIT %(track_limit)s
),
win AS (
  SELECT *, count(*) OVER () AS n,
         row_number() OVER (ORDER BY event_timestamp, event_id COLLATE "C") - 1 AS i
  FROM newest
)
SELECT event_timestamp, latitude, longitude, speed_kmh, heading_deg, battery_pct, n
FROM win
WHERE n <= %(max_points)s
   OR floor(i::float8 * (%(max_points)s - 1) / (n - 1)) > floor((i - 1)::float8 * (%(max_points)s - 1) / (n - 1))
ORDER BY event_timestamp
"""

PG_SERIES = """
SELECT date_trunc('second', ingested_at) AS second, count(*), coalesce(sum(payload_bytes), 0)
FROM {table}
WHERE ingested_at >= %(since)s
GROUP BY 1
ORDER BY 1
"""

PG_EVENTS = f"""
SELECT {", ".join(EVENT_COLUMNS)}
FROM {{table}}
ORDER BY event_timestamp DESC, event_id COLLATE "C" DESC, ingested_at DESC NULLS LAST
LIMIT %(limit)s OFFSET %(offset)s
"""

PG_CLIENT_EVENTS = f"""
SELECT {", ".join(EVENT_COLUMNS)}
FROM {{table}}
WHERE connection_id = %(connection_id)s
ORDER BY event_timestamp DESC, event_id COLLATE "C" DESC, ingested_at DESC NULLS LAST
LIMIT %(limit)s OFFSET %(offset)s
"""

PG_ROWS_OF = "SELECT count(*) FROM {raw_table} WHERE connection_id = %(connection_id)s"  # probes included

PG_QUERIES = {"rows_of": PG_ROWS_OF, "kpis": PG_KPIS, "clients": PG_CLIENTS, "track": PG_TRACK, "series": PG_SERIES,
              "events": PG_EVENTS, "client_events": PG_CLIENT_EVENTS}  # fmt: skip


def databricks(name: str, catalog: str, schema_name: str, table: str) -> str:
    return QUERIES[name].format(table=_source(schema.qualified_name(catalog, schema_name, table)))


@cache
def duckdb(name: str, table_ref: str = "events_source") -> str:
    """The DuckDB translation, reading `table_ref` (a view or table the caller provides, probes left out)."""
    text = QUERIES[name].format(table=table_ref)
    return sqlglot.transpile(text, read="databricks", write="duckdb")[0]


def translate_to_duckdb(statement: str) -> str:
    """Any Databricks SQL statement in DuckDB's dialect (the emulator's warehouse uses this)."""
    return ";\n".join(sqlglot.transpile(statement, read="databricks", write="duckdb"))


def postgres(name: str, schema_name: str, table: str) -> str:
    for part in (schema_name, table):
        schema.quote_identifier(part)
    # psycopg reads % as a placeholder: the pattern's % doubled
    quoted = f'"{schema_name}"."{table}"'
    return PG_QUERIES[name].format(table=_source(quoted, NOT_PROBE.replace("%", "%%")), raw_table=quoted)
