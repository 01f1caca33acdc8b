"""A ZeroBus endpoint that stores nothing and acknowledges every request at once: the ceiling.

Run by bench_localbus.py as its own process: `python bench/null_endpoint.py PORT`.
"""

from __future__ import annotations

import asyncio
import sys

import grpc

from zerostream_desktop.localbus import protocol


async def stream(requests, context):
    await context.send_initial_metadata(())
    response = protocol.response_class()
    ack = protocol.message("IngestRecordResponse")
    async for request in requests:
        kind = request.WhichOneof("payload")
        if kind == "create_stream":
            yield response(create_stream_response=protocol.message("CreateIngestStreamResponse")(stream_id="null"))
        else:
            offset = getattr(request, kind).offset_id
            yield response(ingest_record_response=ack(durability_ack_up_to_offset=offset))


async def main(port: int) -> None:
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
    handler = grpc.stream_stream_rpc_method_handler(
        stream,
        request_deserializer=protocol.request_class().FromString,
        response_serializer=lambda m: m.SerializeToString(),
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(protocol.SERVICE, {"EphemeralStream": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
