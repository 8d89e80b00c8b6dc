"""A small FastAPI app: imported only where the app runs (the server's worker environment)."""

import os

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import StreamingResponse

api = FastAPI()


@api.get("/")
def root() -> dict:
    return {"hello": "world", "pid": os.getpid()}


@api.get("/greeting")
def greeting() -> dict:
    """The app parameter ``greeting`` (a run's output when deployed with RunOutput)."""
    return {"greeting": os.environ.get("GREETING", "")}


@api.get("/slow")
async def slow(seconds: float = 5.0) -> dict:
    import asyncio

    await asyncio.sleep(seconds)
    return {"slept": seconds}


@api.get("/stream")
def stream(n: int = 3) -> StreamingResponse:
    return StreamingResponse((f"chunk {i}\n" for i in range(n)), media_type="text/plain")


@api.post("/echo")
async def echo(body: dict) -> dict:
    return body


@api.post("/upload")
async def upload(request: Request) -> dict:
    size = 0
    async for piece in request.stream():
        size += len(piece)
    return {"size": size}


@api.websocket("/ws")
async def ws(socket: WebSocket) -> None:
    await socket.accept()
    while True:
        text = await socket.receive_text()
        await socket.send_text(f"echo: {text}")
