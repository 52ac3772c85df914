"""A chat server that runs as one node of a cluster.

Run several of these (different ports) against the same Redis and point clients at any of them:

    python examples/chat.py 8001 redis://127.0.0.1:6379/0
    python examples/chat.py 8002 redis://127.0.0.1:6379/0
"""

import sys

import socketio
import uvicorn

import sioadapter

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
url = sys.argv[2] if len(sys.argv) > 2 else "redis://127.0.0.1:6379/0"

mgr = sioadapter.AsyncClusterManager(url)
sio = socketio.AsyncServer(client_manager=mgr, async_mode="asgi")


@sio.event
async def join(sid, room):
    await sio.enter_room(sid, room)
    return {"members": len(await mgr.sockets(room))}  # counted across the whole cluster


@sio.event
async def say(sid, room, text):
    await sio.emit("said", {"from": sid, "text": text}, to=room)


app = socketio.ASGIApp(sio)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=port)
