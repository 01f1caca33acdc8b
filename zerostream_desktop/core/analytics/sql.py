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

# --- data quality: what a messy fleet sends (late, out of order, position jumps, stale fixes, skewed clocks) --
#
# Per event (once, at its latest landing): its delay (landing minus event time) beyond its device's usual
# (the device's median: a skewed clock moves them all), its distance from the device's previous and next
# fix (by event time) against the time between them, and whether an event with a later time of the same
# device was sent before it. A jump: implied speed above :jump_kmh both into and out of the fix (a bad
# fix comes back; a fix after a dropout does not). Stale: the same position as the previous fix while the
# device reports :stale_kmh or more. Distances by haversine; no division, so two fixes at one time are fine.
_HAVERSINE_M = """2 * 6371008.8 * asin(sqrt(power(sin(radians({lat2} - {lat1}) / 2), 2)
      + cos(radians({lat1})) * cos(radians({lat2})) * power(sin(radians({lon2} - {lon1}) / 2), 2)))"""
_BY_TIME = "PARTITION BY connection_id ORDER BY event_timestamp, event_id"


def _quality_flags(seq: str, param: str) -> str:
    """The CTEs after `seq` (one row per event with its lateness and neighbours), for either dialect;
    `param` formats a parameter name as the dialect marks it."""
    late, jump, stale = (param.format(n) for n in ("late_s", "jump_kmh", "stale_kmh"))
    return f"""{seq},
dist AS (
  SELECT *,
    {_HAVERSINE_M.format(lat1="p_lat", lon1="p_lon", lat2="latitude", lon2="longitude")} AS p_m,
    {_HAVERSINE_M.format(lat1="latitude", lon1="longitude", lat2="n_lat", lon2="n_lon")} AS n_m
  FROM seq
),
usual AS (
  SELECT connection_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY lateness_s) AS med
  FROM seq WHERE lateness_s IS NOT NULL GROUP BY connection_id
),
fleet AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY med) AS fleet_med FROM usual),
flagged AS (
  SELECT d.connection_id, d.event_id, d.event_timestamp, d.latitude, d.longitude,
    d.lateness_s - u.med AS beyond_s, u.med - f.fleet_med AS skew_s,
    CASE WHEN d.lateness_s - u.med > {late} THEN 1 ELSE 0 END AS late,
    CASE WHEN d.ingested_at IS NOT NULL AND d.event_timestamp < d.sent_before THEN 1 ELSE 0 END AS ooo,
    CASE WHEN d.p_m > {jump} / 3.6 * d.p_dt AND (d.n_lat IS NULL OR d.n_m > {jump} / 3.6 * d.n_dt)
         THEN 1 ELSE 0 END AS jump,
    CASE WHEN d.p_m < 0.01 AND d.speed_kmh >= {stale} THEN 1 ELSE 0 END AS stale
  FROM dist AS d
  LEFT JOIN usual AS u ON u.connection_id = d.connection_id
  CROSS JOIN fleet AS f
)"""


def _quality_summary(flags: str, param: str, duplicates: str) -> str:
    edges = ("beyond_s < 1", *(f"beyond_s >= {lo} AND beyond_s < {hi}" for lo, hi in ((1, 5), (5, 30), (30, 120),
             (120, 600))), "beyond_s >= 600")  # fmt: skip
    buckets = ",\n".join(f"  sum(CASE WHEN {edge} THEN 1 ELSE 0 END)" for edge in edges)
    return f"""
WITH {flags}
SELECT
  count(*), sum(late), sum(ooo), sum(jump), count(DISTINCT CASE WHEN jump = 1 THEN connection_id END), sum(stale),
  (SELECT count(*) FROM usual CROSS JOIN fleet WHERE abs(med - fleet_med) > {param.format("skew_s")}),
{buckets},
  {duplicates}
FROM flagged
"""


def _quality_devices(flags: str, param: str, order_id: str) -> str:
    findings = "sum(late) + sum(ooo) + sum(jump) + sum(stale)"
    return f"""
WITH {flags}
SELECT connection_id, count(*), sum(late), sum(ooo), sum(jump), sum(stale), max(skew_s)
FROM flagged
GROUP BY connection_id
HAVING {findings} > 0 OR abs(max(skew_s)) > {param.format("skew_s")}
ORDER BY {findings} DESC, {order_id}
"""


_QUALITY_FLAGS = _quality_flags(
    f"""
events AS (
  SELECT event_id, connection_id, event_timestamp, ingested_at, latitude, longitude, speed_kmh
  FROM {{table}}
  {_LATEST_LANDING}
),
seq AS (
  SELECT *,
    (unix_micros(ingested_at) - unix_micros(event_timestamp)) / 1000000.0 AS lateness_s,
    lag(latitude) OVER ({_BY_TIME}) AS p_lat, lag(longitude) OVER ({_BY_TIME}) AS p_lon,
    (unix_micros(event_timestamp) - unix_micros(lag(event_timestamp) OVER ({_BY_TIME}))) / 1000000.0 AS p_dt,
    lead(latitude) OVER ({_BY_TIME}) AS n_lat, lead(longitude) OVER ({_BY_TIME}) AS n_lon,
    (unix_micros(lead(event_timestamp) OVER ({_BY_TIME})) - unix_micros(event_timestamp)) / 1000000.0 AS n_dt,
    max(event_timestamp) OVER (PARTITION BY connection_id ORDER BY ingested_at NULLS LAST, event_timestamp, event_id
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS sent_before
  FROM events
)""",
    ":{}",
)
QUALITY = _quality_summary(_QUALITY_FLAGS, ":{}", "(SELECT count(*) - count(DISTINCT event_id) FROM {table})")
QUALITY_DEVICES = _quality_devices(_QUALITY_FLAGS, ":{}", "connection_id")

# One device's flagged events (for its track on the map, and to compare with a fault log), with how many
# rows the table holds of each.
QUALITY_POINTS = f"""
WITH {_QUALITY_FLAGS},
copies AS (
  SELECT event_id, count(*) AS n FROM {{table}} WHERE connection_id = :connection_id GROUP BY event_id
)
SELECT q.event_id, q.event_timestamp, q.latitude, q.longitude, q.late, q.ooo, q.jump, q.stale, c.n
FROM flagged AS q JOIN copies AS c ON c.event_id = q.event_id
WHERE q.connection_id = :connection_id AND (q.late + q.ooo + q.jump + q.stale > 0 OR c.n > 1)
ORDER BY q.event_timestamp, q.event_id
"""

QUERIES = {"kpis": KPIS, "clients": CLIENTS, "track": TRACK, "series": SERIES, "events": EVENTS,
           "client_events": CLIENT_EVENTS, "quality": QUALITY, "quality_devices": QUALITY_DEVICES,
           "quality_points": QUALITY_POINTS}  # fmt: skip

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

_PG_BY_TIME = 'PARTITION BY connection_id ORDER BY event_timestamp, event_id COLLATE "C"'
_PG_QUALITY_FLAGS = _quality_flags(
    f"""
seq AS (
  SELECT event_id, connection_id, event_timestamp, ingested_at, latitude, longitude, speed_kmh,
    extract(epoch FROM ingested_at - event_timestamp)::float8 AS lateness_s,
    lag(latitude) OVER ({_PG_BY_TIME}) AS p_lat, lag(longitude) OVER ({_PG_BY_TIME}) AS p_lon,
    extract(epoch FROM event_timestamp - lag(event_timestamp) OVER ({_PG_BY_TIME}))::float8 AS p_dt,
    lead(latitude) OVER ({_PG_BY_TIME}) AS n_lat, lead(longitude) OVER ({_PG_BY_TIME}) AS n_lon,
    extract(epoch FROM lead(event_timestamp) OVER ({_PG_BY_TIME}) - event_timestamp)::float8 AS n_dt,
    max(event_timestamp) OVER (PARTITION BY connection_id
                               ORDER BY ingested_at NULLS LAST, event_timestamp, event_id COLLATE "C"
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS sent_before
  FROM {{table}}
)""",
    "%({})s",
)
# a synced table keeps one row per event_id: duplicates cannot be counted there (NULL: not measurable)
PG_QUALITY = _quality_summary(_PG_QUALITY_FLAGS, "%({})s", "NULL::bigint")
PG_QUALITY_DEVICES = _quality_devices(_PG_QUALITY_FLAGS, "%({})s", 'connection_id COLLATE "C"')

PG_QUALITY_POINTS = f"""
WITH {_PG_QUALITY_FLAGS}
SELECT event_id, event_timestamp, latitude, longitude, late, ooo, jump, stale, NULL::bigint
FROM flagged
WHERE connection_id = %(connection_id)s AND late + ooo + jump + stale > 0
ORDER BY event_timestamp, event_id COLLATE "C"
"""

PG_ROWS_OF = "SELECT count(*) FROM {raw_table} WHERE connection_id = %(connection_id)s"  # probes included

PG_QUERIES = {"rows_of": PG_ROWS_OF, "kpis": PG_KPIS, "clients": PG_CLIENTS, "track": PG_TRACK, "series": PG_SERIES,
              "events": PG_EVENTS, "client_events": PG_CLIENT_EVENTS, "quality": PG_QUALITY,
              "quality_devices": PG_QUALITY_DEVICES, "quality_points": PG_QUALITY_POINTS}  # fmt: skip


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
