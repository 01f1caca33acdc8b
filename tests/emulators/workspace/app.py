"""The HTTP surface: FastAPI routes per API area over one Workspace."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

import lz4.frame
import pyarrow as pa
from databricks.sdk.oauth import HostMetadata
from databricks.sdk.service import database, sql
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.emulators.workspace import deployments, oauth, provisioning, thrift
from tests.emulators.workspace.state import ApiError, ExecuteRequest, Statement, Workspace

CHUNK_ROWS = 100_000
LINK_TTL = dt.timedelta(minutes=15)


def create_app(ws: Workspace) -> FastAPI:
    def authorized(request: Request) -> None:
        ws.requests.append((request.method, request.url.path))
        if not oauth.valid_bearer(ws, request.headers.get("Authorization")):
            raise ApiError(401, "UNAUTHENTICATED", "Invalid access token.")
        for method, prefix in ws.deny:
            if request.method == method and request.url.path.startswith(prefix):
                raise ApiError(
                    403, "PERMISSION_DENIED", f"User {ws.user.user_name} does not have permission for {prefix}."
                )

    app = FastAPI()

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error_code": exc.error_code, "message": exc.message}, status_code=exc.status)

    @app.get("/.well-known/databricks-config")
    def host_metadata() -> dict[str, Any]:
        return HostMetadata(oidc_endpoint=f"{ws.base_url}/oidc", workspace_id=ws.workspace_id).as_dict()

    # Result chunks are presigned links in the real service: no Authorization header.
    @app.get("/_emulator/results/{statement_id}/{chunk}")
    def result_chunk(statement_id: str, chunk: int, request: Request) -> Response:
        ws.requests.append((request.method, request.url.path))
        st = ws.statements.get(statement_id)
        if st is None or st.result is None:
            return Response(status_code=404)
        part = st.result.slice(chunk * CHUNK_ROWS, CHUNK_ROWS)
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, part.schema) as writer:
            writer.write_table(part)
        data = sink.getvalue()
        if st.compression == "LZ4_FRAME":
            data = lz4.frame.compress(data)
        return Response(data, media_type="application/vnd.apache.arrow.stream")

    app.include_router(oauth.router(ws))  # signs in: no bearer token yet
    api = APIRouter(dependencies=[Depends(authorized)])
    api.include_router(_identity(ws))
    api.include_router(_warehouses(ws))
    api.include_router(_statements(ws))
    api.include_router(_database(ws))
    api.include_router(provisioning.router(ws))
    api.include_router(deployments.router(ws))
    api.include_router(_thrift(ws))
    app.include_router(api)
    return app


def _thrift(ws: Workspace) -> APIRouter:
    """The warehouse's Thrift endpoint (the connector's transport for https hosts): see thrift.py."""
    r = APIRouter()
    ws.thrift = thrift.Handler(ws)

    @r.post("/sql/1.0/warehouses/{wid}")
    async def thrift_call(wid: str, request: Request) -> Response:
        w = ws.warehouse(wid)  # 404 for an unknown warehouse
        if w.info.state is not sql.State.RUNNING:
            state = w.info.state.value if w.info.state else "?"
            raise ApiError(503, "TEMPORARILY_UNAVAILABLE", f"Warehouse {wid} is {state}; retry when it runs.")
        body = await request.body()
        return Response(thrift.process(ws.thrift, body), media_type="application/x-thrift")

    return r


def _identity(ws: Workspace) -> APIRouter:
    r = APIRouter()

    @r.get("/api/2.0/preview/scim/v2/Me")
    def me() -> dict[str, Any]:
        return ws.user.as_dict()

    return r


def _warehouses(ws: Workspace) -> APIRouter:
    r = APIRouter()

    @r.get("/api/2.0/sql/warehouses/{wid}")
    def get_warehouse(wid: str) -> dict[str, Any]:
        return ws.warehouse(wid).info.as_dict()

    @r.get("/api/2.0/sql/warehouses")
    def list_warehouses() -> dict[str, Any]:
        infos = [sql.EndpointInfo.from_dict(ws.warehouse(w).info.as_dict()) for w in ws.warehouses]
        return sql.ListWarehousesResponse(warehouses=infos).as_dict()

    @r.post("/api/2.0/sql/warehouses/{wid}/start")
    def start_warehouse(wid: str) -> dict[str, Any]:
        ws.warehouse(wid).start()
        return {}

    @r.post("/api/2.0/sql/warehouses/{wid}/stop")
    def stop_warehouse(wid: str) -> dict[str, Any]:
        w = ws.warehouse(wid)
        w.info.state, w.info.num_clusters = sql.State.STOPPED, 0
        return {}

    return r


def _statements(ws: Workspace) -> APIRouter:
    r = APIRouter()

    @r.post("/api/2.0/sql/sessions")
    async def create_session(request: Request) -> dict[str, Any]:
        body = await request.json()
        ws.warehouse(body.get("warehouse_id", ""))
        sid = str(uuid.uuid4())
        ws.sessions[sid] = body["warehouse_id"]
        return {"session_id": sid}

    @r.delete("/api/2.0/sql/sessions/{sid}")
    def delete_session(sid: str) -> dict[str, Any]:
        ws.sessions.pop(sid, None)
        return {}

    @r.post("/api/2.0/sql/statements")
    async def execute(request: Request) -> dict[str, Any]:
        body = await request.json()
        req = ExecuteRequest.from_dict(body)
        w = ws.warehouse(req.warehouse_id or "")
        st = Statement(str(uuid.uuid4()), w.info.id or "", req, body.get("result_compression") or "NONE")
        ws.statements[st.id] = st
        if w.refresh_state() is not sql.State.RUNNING:  # a stopped warehouse starts; the statement waits
            w.start()
        _run_if_ready(ws, st)
        return _response(ws, st)

    @r.get("/api/2.0/sql/statements/{statement_id}")
    def get_statement(statement_id: str) -> dict[str, Any]:
        st = _statement(ws, statement_id)
        _run_if_ready(ws, st)
        return _response(ws, st)

    @r.get("/api/2.0/sql/statements/{statement_id}/result/chunks/{chunk}")
    def get_chunk(statement_id: str, chunk: int) -> dict[str, Any]:
        st = _statement(ws, statement_id)
        return _result_data(ws, st, chunk).as_dict()

    @r.post("/api/2.0/sql/statements/{statement_id}/cancel")
    def cancel(statement_id: str) -> dict[str, Any]:
        st = _statement(ws, statement_id)
        if st.state in (sql.StatementState.PENDING, sql.StatementState.RUNNING):
            st.state = sql.StatementState.CANCELED
        return {}

    @r.delete("/api/2.0/sql/statements/{statement_id}")
    def close(statement_id: str) -> dict[str, Any]:
        st = _statement(ws, statement_id)
        st.state, st.result = sql.StatementState.CLOSED, None
        return {}

    return r


def _statement(ws: Workspace, statement_id: str) -> Statement:
    st = ws.statements.get(statement_id)
    if st is None:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {statement_id} does not exist.")
    return st


def _run_if_ready(ws: Workspace, st: Statement) -> None:
    if (
        st.state is not sql.StatementState.PENDING
        or ws.warehouse(st.warehouse_id).refresh_state() is not sql.State.RUNNING
    ):
        return
    try:
        if provisioning.create_table_from_ddl(ws, st.request.statement or ""):
            st.result = pa.table({})
        else:
            st.result = ws.engine.execute(st.request.statement or "", st.request.parameters or [])
        st.state = sql.StatementState.SUCCEEDED
    except Exception as exc:  # the engine's message, as the warehouse reports a failed statement
        st.state = sql.StatementState.FAILED
        st.error = sql.ServiceError(
            error_code=sql.ServiceErrorCode.BAD_REQUEST, message=f"[{type(exc).__name__}] {exc}"
        )


_TYPE_NAMES = [
    (pa.types.is_string, sql.ColumnInfoTypeName.STRING, "STRING"),
    (pa.types.is_int64, sql.ColumnInfoTypeName.LONG, "BIGINT"),
    (pa.types.is_int32, sql.ColumnInfoTypeName.INT, "INT"),
    (pa.types.is_int16, sql.ColumnInfoTypeName.SHORT, "SMALLINT"),
    (pa.types.is_float64, sql.ColumnInfoTypeName.DOUBLE, "DOUBLE"),
    (pa.types.is_float32, sql.ColumnInfoTypeName.FLOAT, "FLOAT"),
    (pa.types.is_boolean, sql.ColumnInfoTypeName.BOOLEAN, "BOOLEAN"),
    (pa.types.is_timestamp, sql.ColumnInfoTypeName.TIMESTAMP, "TIMESTAMP"),
    (pa.types.is_date, sql.ColumnInfoTypeName.DATE, "DATE"),
]


def _column(f: pa.Field, i: int) -> sql.ColumnInfo:
    for test, name, text in _TYPE_NAMES:
        if test(f.type):
            return sql.ColumnInfo(name=f.name, position=i, type_name=name, type_text=text)
    return sql.ColumnInfo(name=f.name, position=i, type_name=sql.ColumnInfoTypeName.STRING, type_text="STRING")


def _response(ws: Workspace, st: Statement) -> dict[str, Any]:
    status = sql.StatementStatus(state=st.state, error=st.error)
    resp = sql.StatementResponse(statement_id=st.id, status=status)
    if st.state is sql.StatementState.SUCCEEDED and st.result is not None:
        fmt = st.request.format or sql.Format.JSON_ARRAY
        n = st.result.num_rows
        chunks = max(1, -(-n // CHUNK_ROWS))
        resp.manifest = sql.ResultManifest(
            format=fmt,
            schema=sql.ResultSchema(column_count=st.result.num_columns,
                                    columns=[_column(f, i) for i, f in enumerate(st.result.schema)]),
            total_row_count=n, total_chunk_count=chunks, truncated=False,
            chunks=[sql.BaseChunkInfo(chunk_index=c, row_offset=c * CHUNK_ROWS,
                                      row_count=min(CHUNK_ROWS, n - c * CHUNK_ROWS)) for c in range(chunks)],
        )  # fmt: skip
        resp.result = _result_data(ws, st, 0)
    body = resp.as_dict()
    if "manifest" in body:
        body["manifest"]["result_compression"] = st.compression if _external(st) else "NONE"
    return body


def _external(st: Statement) -> bool:
    return st.request.disposition in ("EXTERNAL_LINKS", "HYBRID")


def _result_data(ws: Workspace, st: Statement, chunk: int) -> sql.ResultData:
    if st.result is None:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {st.id} has no result.")
    n = st.result.num_rows
    chunks = max(1, -(-n // CHUNK_ROWS))
    if not 0 <= chunk < chunks:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Chunk index {chunk} is out of range.")
    rows = min(CHUNK_ROWS, n - chunk * CHUNK_ROWS)
    nxt = chunk + 1 if chunk + 1 < chunks else None
    data = sql.ResultData(chunk_index=chunk, row_offset=chunk * CHUNK_ROWS, row_count=rows, next_chunk_index=nxt)
    if nxt is not None:
        data.next_chunk_internal_link = f"/api/2.0/sql/statements/{st.id}/result/chunks/{nxt}"
    if _external(st):
        expires = (dt.datetime.now(dt.UTC) + LINK_TTL).isoformat().replace("+00:00", "Z")
        link = sql.ExternalLink(
            external_link=f"{ws.base_url}/_emulator/results/{st.id}/{chunk}", expiration=expires,
            chunk_index=chunk, row_offset=chunk * CHUNK_ROWS, row_count=rows, next_chunk_index=nxt,
            next_chunk_internal_link=data.next_chunk_internal_link,
        )  # fmt: skip
        data.external_links = [link]
    else:  # INLINE JSON_ARRAY: every value as a string
        part = st.result.slice(chunk * CHUNK_ROWS, CHUNK_ROWS)
        data.data_array = [[None if v is None else _text(v) for v in row.values()] for row in part.to_pylist()]
    return data


def _text(v: object) -> str:
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _database(ws: Workspace) -> APIRouter:
    r = APIRouter()

    @r.get("/api/2.0/database/instances/{name}")
    def get_instance(name: str) -> dict[str, Any]:
        inst = ws.database_instances.get(name)
        if inst is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Database instance '{name}' does not exist.")
        return inst.info.as_dict()

    @r.post("/api/2.0/database/credentials")
    async def credential(request: Request) -> dict[str, Any]:
        body = await request.json()
        names = body.get("instance_names") or []
        missing = [n for n in names if n not in ws.database_instances]
        if not names or missing:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Database instance(s) {missing or names} do not exist.")
        token = f"lbt-{uuid.uuid4().hex}"
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ws.credential_ttl_s)
        if ws.on_credential is not None:
            ws.on_credential(ws.user.user_name or "", token, expires)
        ws.credentials_issued += 1
        return database.DatabaseCredential(
            token=token, expiration_time=expires.isoformat().replace("+00:00", "Z")
        ).as_dict()

    return r
