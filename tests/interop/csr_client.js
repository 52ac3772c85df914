// One socket.io-client 4.8 client for the connection state recovery tests
// (tests/live/test_recovery.py), driven over JSON lines.
//
// Usage: node csr_client.js <url> [websocket|polling]
//   stdout: {"connect": "<socket id>", "recovered": bool} at each (re)connection,
//           {"event": "<name>", "args": [...]} for every event received,
//           {"disconnect": "<reason>"}, {"reply": n, "result": ...} for each command.
//   stdin:  {"n": 1, "cmd": "emit", "event": "...", "args": [...]} (waits for the ack),
//           {"n": 2, "cmd": "exit"}.
// The client reconnects by itself (socket.io-client's default), over one transport only:
// websocket by default, so that one TCP connection is the whole transport (the tests cut it
// through a proxy).
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const socket = io(process.argv[2], {
  transports: [process.argv[3] || "websocket"],
  reconnectionDelay: 50,
  reconnectionDelayMax: 200,
  randomizationFactor: 0,
});

function send(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

socket.on("connect", () => send({ connect: socket.id, recovered: socket.recovered }));
socket.on("disconnect", (reason) => send({ disconnect: reason }));
socket.on("connect_error", (error) => send({ connect_error: String(error && error.message) }));
socket.onAny((event, ...args) => send({ event, args }));

readline.createInterface({ input: process.stdin }).on("line", async (text) => {
  const command = JSON.parse(text);
  if (command.cmd === "exit") {
    socket.close();
    send({ reply: command.n, result: null });
    process.exit(0);
  }
  if (command.cmd === "emit") {
    try {
      const result = await socket.timeout(5000).emitWithAck(command.event, ...(command.args || []));
      send({ reply: command.n, result });
    } catch (error) {
      send({ reply: command.n, error: String(error && error.message) });
    }
  }
});
