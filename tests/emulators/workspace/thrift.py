"""The SQL warehouse's Thrift protocol (TCLIService over HTTP), what the SQL connector uses for https hosts.

The wire format is the connector's own generated Thrift classes (`databricks.sql.thrift_api.TCLIService`):
their `Processor` reads each request with TBinaryProtocol from the POST body to
`/sql/1.0/warehouses/<id>` and writes the response, and `Handler` below answers the calls the
connector makes. Statements run on the emulator's DuckDB engine (Databricks SQL translated by sqlglot)
with their named parameters, and come back inline as Arrow (`directResults`: status, metadata with the
Arrow schema, one Arrow batch per 100,000 rows, LZ4-compressed when the client can read it). A SQL
error comes back as the service reports it: the operation in ERROR_STATE with the message and
SQLSTATE. A warehouse that does not exist or is not running is refused at the HTTP level.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import lz4.frame
import pyarrow as pa
from databricks.sdk.service import sql
from databricks.sql.thrift_api.TCLIService import TCLIService, ttypes
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

from tests.emulators.workspace.state import Workspace

BATCH_ROWS = 100_000
_OK = ttypes.TStatus(statusCode=ttypes.TStatusCode.SUCCESS_STATUS)
_TYPES = [
    (pa.types.is_string, ttypes.TTypeId.STRING_TYPE), (pa.types.is_large_string, ttypes.TTypeId.STRING_TYPE),
    (pa.types.is_boolean, ttypes.TTypeId.BOOLEAN_TYPE), (pa.types.is_int8, ttypes.TTypeId.TINYINT_TYPE),
    (pa.types.is_int16, ttypes.TTypeId.SMALLINT_TYPE), (pa.types.is_int32, ttypes.TTypeId.INT_TYPE),
    (pa.types.is_int64, ttypes.TTypeId.BIGINT_TYPE), (pa.types.is_float32, ttypes.TTypeId.FLOAT_TYPE),
    (pa.types.is_float64, ttypes.TTypeId.DOUBLE_TYPE), (pa.types.is_timestamp, ttypes.TTypeId.TIMESTAMP_TYPE),
    (pa.types.is_date, ttypes.TTypeId.DATE_TYPE), (pa.types.is_decimal, ttypes.TTypeId.DECIMAL_TYPE),
]  # fmt: skip


@dataclass
class _Operation:
    metadata: ttypes.TGetResultSetMetadataResp
    results: ttypes.TFetchResultsResp
    status: ttypes.TGetOperationStatusResp


@dataclass
class Handler:
    """TCLIService.Iface over the emulator's SQL engine, for one workspace."""

    ws: Workspace
    sessions: set[bytes] = field(default_factory=set)
    operations: dict[bytes, _Operation] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[str] = field(default_factory=list)

    def _handle(self) -> ttypes.THandleIdentifier:
        return ttypes.THandleIdentifier(guid=uuid.uuid4().bytes, secret=uuid.uuid4().bytes)

    def OpenSession(self, req: ttypes.TOpenSessionReq) -> ttypes.TOpenSessionResp:  # noqa: N802
        self.calls.append("OpenSession")
        handle = self._handle()
        with self.lock:
            self.sessions.add(handle.guid)
        return ttypes.TOpenSessionResp(
            status=_OK, serverProtocolVersion=ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V8,
            sessionHandle=ttypes.TSessionHandle(sessionId=handle), configuration={}, canUseMultipleCatalogs=True,
        )  # fmt: skip

    def CloseSession(self, req: ttypes.TCloseSessionReq) -> ttypes.TCloseSessionResp:  # noqa: N802
        self.calls.append("CloseSession")
        with self.lock:
            self.sessions.discard(req.sessionHandle.sessionId.guid)
        return ttypes.TCloseSessionResp(status=_OK)

    def ExecuteStatement(self, req: ttypes.TExecuteStatementReq) -> ttypes.TExecuteStatementResp:  # noqa: N802
        self.calls.append("ExecuteStatement")
        if req.sessionHandle.sessionId.guid not in self.sessions:
            return ttypes.TExecuteStatementResp(status=ttypes.TStatus(
                statusCode=ttypes.TStatusCode.INVALID_HANDLE_STATUS, errorMessage="Invalid SessionHandle"))  # fmt: skip
        handle = ttypes.TOperationHandle(
            operationId=self._handle(), operationType=ttypes.TOperationType.EXECUTE_STATEMENT, hasResultSet=True
        )
        params = [
            sql.StatementParameterListItem(name=p.name, type=p.type, value=p.value.stringValue if p.value else None)
            for p in req.parameters or []
        ]
        try:
            table = self.ws.engine.execute(req.statement, params)
        except Exception as exc:  # the service reports a failed statement as the operation's state
            message = str(exc).splitlines()[0]
            status = ttypes.TGetOperationStatusResp(
                status=_OK, operationState=ttypes.TOperationState.ERROR_STATE, sqlState="42000",
                errorMessage=message, displayMessage=f"[PARSE_SYNTAX_ERROR] {message}" if "arser" in message
                else message,
            )  # fmt: skip
            return ttypes.TExecuteStatementResp(
                status=_OK, operationHandle=handle, directResults=ttypes.TSparkDirectResults(operationStatus=status)
            )
        operation = self._result(table, bool(req.canDecompressLZ4Result))
        with self.lock:
            self.operations[handle.operationId.guid] = operation
        return ttypes.TExecuteStatementResp(
            status=_OK, operationHandle=handle,
            directResults=ttypes.TSparkDirectResults(
                operationStatus=operation.status, resultSetMetadata=operation.metadata, resultSet=operation.results,
                closeOperation=None,
            ),
        )  # fmt: skip

    def _result(self, table: pa.Table, compress: bool) -> _Operation:
        columns = []
        for i, f in enumerate(table.schema):
            type_id = next((t for check, t in _TYPES if check(f.type)), ttypes.TTypeId.STRING_TYPE)
            entry = ttypes.TTypeEntry(primitiveEntry=ttypes.TPrimitiveTypeEntry(type=type_id))
            columns.append(ttypes.TColumnDesc(columnName=f.name, typeDesc=ttypes.TTypeDesc(types=[entry]), position=i))
        batches = []
        for batch in table.combine_chunks().to_batches(max_chunksize=BATCH_ROWS) or []:
            data = batch.serialize().to_pybytes()
            batches.append(ttypes.TSparkArrowBatch(batch=lz4.frame.compress(data) if compress else data,
                                                   rowCount=batch.num_rows))  # fmt: skip
        metadata = ttypes.TGetResultSetMetadataResp(
            status=_OK, schema=ttypes.TTableSchema(columns=columns),
            resultFormat=ttypes.TSparkRowSetType.ARROW_BASED_SET, lz4Compressed=compress,
            arrowSchema=table.schema.serialize().to_pybytes(), isStagingOperation=False,
        )  # fmt: skip
        results = ttypes.TFetchResultsResp(
            status=_OK, hasMoreRows=False, resultSetMetadata=metadata,
            results=ttypes.TRowSet(startRowOffset=0, rows=[], arrowBatches=batches),
        )  # fmt: skip
        status = ttypes.TGetOperationStatusResp(status=_OK, operationState=ttypes.TOperationState.FINISHED_STATE)
        return _Operation(metadata, results, status)

    def _operation(self, handle: ttypes.TOperationHandle) -> _Operation | None:
        with self.lock:
            return self.operations.get(handle.operationId.guid)

    def GetOperationStatus(self, req: ttypes.TGetOperationStatusReq) -> ttypes.TGetOperationStatusResp:  # noqa: N802
        self.calls.append("GetOperationStatus")
        op = self._operation(req.operationHandle)
        return op.status if op else ttypes.TGetOperationStatusResp(status=_invalid())

    def GetResultSetMetadata(self, req: Any) -> ttypes.TGetResultSetMetadataResp:  # noqa: N802
        self.calls.append("GetResultSetMetadata")
        op = self._operation(req.operationHandle)
        return op.metadata if op else ttypes.TGetResultSetMetadataResp(status=_invalid())

    def FetchResults(self, req: ttypes.TFetchResultsReq) -> ttypes.TFetchResultsResp:  # noqa: N802
        self.calls.append("FetchResults")
        op = self._operation(req.operationHandle)
        if op is None:
            return ttypes.TFetchResultsResp(status=_invalid())
        empty = ttypes.TRowSet(startRowOffset=sum(b.rowCount for b in op.results.results.arrowBatches),
                               rows=[], arrowBatches=[])  # fmt: skip
        return ttypes.TFetchResultsResp(status=_OK, hasMoreRows=False, resultSetMetadata=op.metadata, results=empty)

    def CloseOperation(self, req: ttypes.TCloseOperationReq) -> ttypes.TCloseOperationResp:  # noqa: N802
        self.calls.append("CloseOperation")
        with self.lock:
            self.operations.pop(req.operationHandle.operationId.guid, None)
        return ttypes.TCloseOperationResp(status=_OK)

    def CancelOperation(self, req: ttypes.TCancelOperationReq) -> ttypes.TCancelOperationResp:  # noqa: N802
        self.calls.append("CancelOperation")
        return ttypes.TCancelOperationResp(status=_OK)


def _invalid() -> ttypes.TStatus:
    return ttypes.TStatus(statusCode=ttypes.TStatusCode.INVALID_HANDLE_STATUS, errorMessage="Invalid OperationHandle")


def process(handler: Handler, body: bytes) -> bytes:
    """One Thrift call: the request's bytes in, the response's bytes out."""
    source = TTransport.TMemoryBuffer(body)
    sink = TTransport.TMemoryBuffer()
    TCLIService.Processor(handler).process(
        TBinaryProtocol.TBinaryProtocol(source), TBinaryProtocol.TBinaryProtocol(sink)
    )
    return sink.getvalue()
