"""Typed settings, with the original ZeroStream variable names.

Sources, highest first: command-line flags, the environment, `.env`, `generated_config.env`,
defaults. Files are read from the working directory and, below it, the user config folder. Every
value remembers where it came from, so a bad one is reported with its variable and its source.
Secrets never come from here: they live in the keyring (see `secrets`).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zerostream_desktop.core import paths, schema

ENV_FILES = ("generated_config.env", ".env")  # lowest first
MAX_STREAMS = 32  # ZeroBus streams one producer opens at most (ZEROBUS_STREAMS, `stream --streams`)


class SettingsError(ValueError):
    """A setting with a bad value; the message names the variable and where it came from."""


class Settings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    databricks_host: str | None = Field(None, alias="DATABRICKS_HOST")
    databricks_profile: str | None = Field(None, alias="DATABRICKS_CONFIG_PROFILE")
    infra_prefix: str = Field("zerostream", alias="INFRA_PREFIX", min_length=1, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    catalog: str = Field("zerostream", alias="CATALOG")
    schema_name: str = Field("sensors", alias="SCHEMA")
    table_name: str = Field(schema.DEFAULT_TABLE_NAME, alias="TABLE_NAME")
    zerobus_server_endpoint: str | None = Field(None, alias="ZEROBUS_SERVER_ENDPOINT")
    zerobus_topic: str = Field("", alias="ZEROBUS_TOPIC")
    zerobus_sp_name: str = Field("", alias="ZEROBUS_SP_NAME")
    zerobus_client_id: str | None = Field(None, alias="ZEROBUS_CLIENT_ID")
    zerobus_streams: Literal["auto"] | Annotated[int, Field(ge=1, le=MAX_STREAMS)] = Field(
        "auto", alias="ZEROBUS_STREAMS"
    )
    stream_interval_ms: int = Field(5000, alias="STREAM_INTERVAL_MS", ge=10, le=3_600_000)
    active_window_seconds: int = Field(15, alias="ACTIVE_WINDOW_SECONDS", ge=1, le=86_400)
    warehouse_name: str = Field("", alias="WAREHOUSE_NAME")
    warehouse_cluster_size: str = Field("Small", alias="WAREHOUSE_CLUSTER_SIZE")
    warehouse_id: str | None = Field(None, alias="DATABRICKS_WAREHOUSE_ID")
    lakebase_instance: str = Field("", alias="LAKEBASE_INSTANCE")
    lakebase_databases: str = Field("zerobusstream", alias="LAKEBASE_DATABASES")
    lakebase_schema: str = Field("sensordata", alias="LAKEBASE_SCHEMA")
    lakebase_capacity: Literal["CU_1", "CU_2", "CU_4", "CU_8"] = Field("CU_2", alias="LAKEBASE_CAPACITY")
    mobile_app_name: str = Field("", alias="MOBILE_APP_NAME")
    dashboard_app_name: str = Field("", alias="DASHBOARD_APP_NAME")
    endpoint: Literal["local", "databricks"] = Field("local", alias="ZEROSTREAM_ENDPOINT")
    analytics: Literal["auto", "local", "warehouse", "lakebase"] = Field("auto", alias="ZEROSTREAM_ANALYTICS")
    lakebase_port: int = Field(5432, alias="LAKEBASE_PORT", ge=1, le=65535)
    local_retention_days: int = Field(30, alias="LOCAL_RETENTION_DAYS", ge=0, le=36_500)
    data_dir: Path = Field(default_factory=paths.default_data_dir, alias="ZEROSTREAM_DATA_DIR")
    sim_devices: int = Field(10, alias="SIM_DEVICES", ge=0, le=10_000)
    sim_seed: int | None = Field(None, alias="SIM_SEED", ge=0, le=2**63 - 1)
    sim_region: str = Field("world", alias="SIM_REGION")

    @field_validator("databricks_host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if not v:
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be a URL like https://<workspace>.cloud.databricks.com")
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("catalog", "schema_name", "table_name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        schema.quote_identifier(v)
        return v

    @field_validator("sim_region")
    @classmethod
    def _region(cls, v: str) -> str:
        from zerostream_desktop.core.fleet.regions import Region

        Region.parse(v)
        return v

    @model_validator(mode="after")
    def _derived_names(self) -> Settings:
        p = self.infra_prefix
        derived = {
            "zerobus_topic": f"{p}_sensor_stream_topic",
            "zerobus_sp_name": f"{p}-zerobus-service",
            "warehouse_name": f"{p}_warehouse",
            "lakebase_instance": f"{p}-lakebase",
            "mobile_app_name": f"{p}-mobile-app",
            "dashboard_app_name": f"{p}-dashboard-app",
        }
        for name, value in derived.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        return self

    @property
    def full_table_name(self) -> str:
        return f"{self.catalog}.{self.schema_name}.{self.table_name}"


@dataclass(frozen=True)
class Sourced:
    value: str
    source: str


def _alias_names() -> set[str]:
    return {f.alias for f in Settings.model_fields.values() if f.alias}


def _file_layers(search_dirs: list[Path]) -> list[tuple[str, dict[str, str | None]]]:
    layers = []
    for folder in search_dirs:
        for name in ENV_FILES:
            path = folder / name
            if path.is_file():
                layers.append((str(path), dotenv_values(path, interpolate=True)))
    return layers


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    search_dirs: list[Path] | None = None,
    check_profile: bool = True,
) -> Settings:
    """Merge every source and validate; raise SettingsError naming the variable and its source."""
    return resolve_settings(flags, environ=environ, search_dirs=search_dirs, check_profile=check_profile)[0]


def resolve_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    search_dirs: list[Path] | None = None,
    check_profile: bool = True,
) -> tuple[Settings, dict[str, Sourced]]:
    """The settings and, for each variable that was set, its raw value and source."""
    environ = os.environ if environ is None else environ
    dirs = search_dirs if search_dirs is not None else [paths.user_config_dir(), Path.cwd()]
    known = _alias_names()
    merged: dict[str, Sourced] = {}
    for source, values in _file_layers(dirs):
        for key, value in values.items():
            if key in known and value is not None and value != "":
                merged[key] = Sourced(value, source)
    for key in known & environ.keys():
        if environ[key] != "":
            merged[key] = Sourced(environ[key], "environment")
    for key, value in (flags or {}).items():
        if value is not None:
            alias = Settings.model_fields[key].alias if key in Settings.model_fields else key
            merged[str(alias)] = Sourced(str(value), "command line")
    try:
        settings = Settings.model_validate({k: v.value for k, v in merged.items()})
    except ValidationError as exc:
        raise SettingsError(_describe(exc, merged)) from None
    if check_profile and settings.databricks_profile:
        _check_profile(settings.databricks_profile, merged["DATABRICKS_CONFIG_PROFILE"].source, environ)
    return settings, merged


def _describe(exc: ValidationError, merged: dict[str, Sourced]) -> str:
    lines = []
    for err in exc.errors():
        loc = err["loc"][0] if err["loc"] else ""
        field = Settings.model_fields.get(str(loc))
        alias = field.alias if field and field.alias else str(loc)
        where = merged.get(str(alias))
        origin = f"{where.value!r} from {where.source}" if where else "(default)"
        message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{alias}={origin}: {message}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def databricks_config_file(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("DATABRICKS_CONFIG_FILE") or Path.home() / ".databrickscfg").expanduser()


def databricks_profiles(environ: Mapping[str, str] | None = None) -> list[str]:
    """The profile names in ~/.databrickscfg (or DATABRICKS_CONFIG_FILE); none when it is missing or unreadable."""
    parser = configparser.ConfigParser()
    try:
        parser.read(databricks_config_file(os.environ if environ is None else environ), encoding="utf-8")
    except configparser.Error:
        return []
    return parser.sections()


def _check_profile(profile: str, source: str, environ: Mapping[str, str]) -> None:
    path = databricks_config_file(environ)
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise SettingsError(f"DATABRICKS_CONFIG_PROFILE={profile!r} from {source}: cannot read {path}: {exc}") from None
    if not parser.has_section(profile):
        known = ", ".join(parser.sections()) or "none"
        raise SettingsError(
            f"DATABRICKS_CONFIG_PROFILE={profile!r} from {source}: no such profile in {path} "
            f"(profiles there: {known}). Create it with `databricks auth login --profile {profile}`."
        )


def databricks_config(settings: Settings, retry_timeout_seconds: int = 60, token: str | None = None) -> Any:
    """A databricks-sdk Config using unified auth: profile, host + env credentials, or CLI login.

    `token`: a personal access token (from the keyring) for the host, used instead of the rest.
    The SDK's default retry budget is 300 s; an interactive app should fail within a minute.
    """
    from databricks.sdk.core import Config

    kwargs: dict[str, Any] = {"retry_timeout_seconds": retry_timeout_seconds}
    if token and settings.databricks_host:
        return Config(host=settings.databricks_host, token=token, auth_type="pat", **kwargs)
    if settings.databricks_profile:
        kwargs["profile"] = settings.databricks_profile
    if settings.databricks_host:
        kwargs["host"] = settings.databricks_host
    return Config(**kwargs)


# --- the user's settings file (what the Settings dialog saves) ----------------------------


def user_settings_path() -> Path:
    """`.env` in the user config folder: read below the working directory's files, written by the app."""
    return paths.user_config_dir() / ".env"


def save_user_settings(values: Mapping[str, str | None], path: Path | None = None) -> Path:
    """Set (or, for None / "", remove) variables in the user's settings file; other lines are kept.

    Only known, non-secret variables are accepted; the file is replaced in one step.
    """
    path = path or user_settings_path()
    known = _alias_names()
    unknown = set(values) - known
    if unknown:
        raise SettingsError(f"not settings: {', '.join(sorted(unknown))}")
    current = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    for key, value in values.items():
        if value in (None, ""):
            current.pop(key, None)
        else:
            current[key] = str(value)
    lines = ["# ZeroStream settings, written by the app (Settings dialog). Secrets live in the OS keyring."]
    for key, value in current.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{key}="{escaped}"')
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
