// The Node side of tests/interop/streams_py_to_node.py (a manual check): one socket.io 4.8
// server on @socket.io/redis-streams-adapter 0.3.1 and one client in room1; prints what the
// client and the server-side handler receive, as JSON lines.
const http = require("http");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
(async () => {
  const client = createClient({ url: process.argv[2] });
  await client.connect();
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(client), connectionStateRecovery: {} });
  io.on("connection", (s) => { s.data = { who: "node" }; s.join("room1"); });
  io.on("py-event", (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    console.log(JSON.stringify({ sse: args }));
    if (cb) cb("node-answer");
  });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  const c = ioc(`http://127.0.0.1:${httpServer.address().port}`, { transports: ["websocket"] });
  c.onAny((...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    console.log(JSON.stringify({ client: args.map((a) => (Buffer.isBuffer(a) || a instanceof ArrayBuffer ? { bin: Buffer.from(a).toString("hex") } : a)) }));
    if (cb) cb("client-ack");
  });
  c.on("connect", () => console.log(JSON.stringify({ ready: c.id })));
})();
