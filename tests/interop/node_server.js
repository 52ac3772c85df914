// One Node.js Socket.IO server of a mixed Python/Node cluster, driven by a Python test.
//
// Usage: node node_server.js '<json config>'
//   config: {port: 0, host: "127.0.0.1", mode: "classic" | "sharded", key: "socket.io",
//            redis: "redis://127.0.0.1:6379/0"        (classic, standalone Redis)
//            cluster: ["redis://127.0.0.1:7000", ...]   (a Redis Cluster: createCluster)
//            requestsTimeout: 5000,                      (classic adapter option, ms)
//            publishOnSpecificResponseChannel: false,    (classic adapter option)
//            subscriptionMode: "dynamic"}                (sharded adapter option)
//
// Protocol, one JSON object per line:
//   stdout, once listening and subscribed:  {"ready": <port>, "uid": "<adapter uid of />"}
//   stdin, commands:                         {"id": n, "op": "...", ...fields}
//   stdout, answers:                         {"id": n, "result": ...} or {"id": n, "error": "..."}
//   stdout, unsolicited reports:             {"event": "serverSide", "nsp", "name", "args"}
//                                            {"event": "connection" | "disconnect", "nsp", "id", ...}
// Binary values travel as {"$bin": "<hex>"} both ways. The server stops on {"op": "exit"} or
// when stdin closes (the Python side then also kills it by PID).
"use strict";

const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { createClient, createCluster } = require("redis");

const config = JSON.parse(process.argv[2] || "{}");
const NAMESPACES = ["/", "/custom"];

// Progress notes on stderr: the Python side shows them when the server fails to start.
function note(text) {
  process.stderr.write(`[node_server ${new Date().toISOString()}] ${text}\n`);
}

function send(message) {
  process.stdout.write(JSON.stringify(toWire(message)) + "\n");
}

// -- binary <-> {"$bin": hex} -----------------------------------------------------------------

function toWire(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  }
  if (value instanceof Set) return [...value].map(toWire);
  if (Array.isArray(value)) return value.filter((v) => typeof v !== "function").map(toWire);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined && typeof v !== "function") out[k] = toWire(v);
    }
    return out;
  }
  return value;
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(value.$bin, "hex");
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromWire(v);
    return out;
  }
  return value;
}

// -- Redis clients, with their subscriptions tracked ------------------------------------------

// The adapters subscribe without awaiting; keep every (un)subscribe promise so that "ready" and
// the "settle" command can wait until Redis acknowledged them all.
const pendingSubscriptions = new Set();

function trackSubscriptions(client) {
  for (const name of ["subscribe", "pSubscribe", "sSubscribe", "unsubscribe", "pUnsubscribe",
    "sUnsubscribe"]) {
    if (typeof client[name] !== "function") continue;
    const original = client[name].bind(client);
    client[name] = (...args) => {
      const promise = Promise.resolve(original(...args));
      pendingSubscriptions.add(promise);
      promise.catch((err) => process.stderr.write(`${name} failed: ${err}\n`))
        .finally(() => pendingSubscriptions.delete(promise));
      return promise;
    };
  }
}

async function settle() {
  while (pendingSubscriptions.size > 0) {
    await Promise.allSettled([...pendingSubscriptions]);
  }
}

async function redisClients() {
  const pub = config.cluster
    ? createCluster({ rootNodes: config.cluster.map((url) => ({ url })) })
    : createClient({ url: config.redis });
  const sub = pub.duplicate();
  let lastError = "";
  for (const client of [pub, sub]) {
    client.on("error", (err) => {
      // node-redis retries forever: report each new error once, not every retry.
      if (String(err) !== lastError) note(`redis error: ${(lastError = String(err))}`);
    });
  }
  trackSubscriptions(sub);
  await Promise.all([pub.connect(), sub.connect()]);
  note("connected to Redis");
  return [pub, sub];
}

// -- commands ---------------------------------------------------------------------------------

// A BroadcastOperator for the command's namespace and targets.
function operator(io, cmd) {
  let op = io.of(cmd.nsp || "/");
  if (cmd.to && cmd.to.length) op = op.to(cmd.to);
  if (cmd.except && cmd.except.length) op = op.except(cmd.except);
  return op;
}

function describeSocket(socket) {
  return { id: socket.id, rooms: [...socket.rooms], data: socket.data, handshake: socket.handshake };
}

const COMMANDS = {
  emit(io, cmd) {
    operator(io, cmd).emit(cmd.event, ...fromWire(cmd.args || []));
    return null;
  },
  async emitWithAck(io, cmd) {
    return operator(io, cmd).timeout(cmd.timeout || 5000).emitWithAck(cmd.event, ...fromWire(cmd.args || []));
  },
  async fetchSockets(io, cmd) {
    const sockets = await operator(io, cmd).fetchSockets();
    return sockets.map(describeSocket);
  },
  // fetchSockets() for one socket id, then that (possibly remote) socket's emitWithAck.
  async socketEmitWithAck(io, cmd) {
    const sockets = await io.of(cmd.nsp || "/").in(cmd.sid).fetchSockets();
    if (sockets.length !== 1) throw new Error(`${sockets.length} sockets have id ${cmd.sid}`);
    return sockets[0].timeout(cmd.timeout || 5000).emitWithAck(cmd.event, ...fromWire(cmd.args || []));
  },
  async allRooms(io, cmd) {
    const adapter = io.of(cmd.nsp || "/").adapter;
    if (typeof adapter.allRooms !== "function") throw new Error("this adapter has no allRooms()");
    return [...(await adapter.allRooms())];
  },
  async serverCount(io, cmd) {
    return io.of(cmd.nsp || "/").adapter.serverCount();
  },
  serverSideEmit(io, cmd) {
    io.of(cmd.nsp || "/").serverSideEmit(cmd.event, ...fromWire(cmd.args || []));
    return null;
  },
  async serverSideEmitWithAck(io, cmd) {
    return io.of(cmd.nsp || "/").serverSideEmitWithAck(cmd.event, ...fromWire(cmd.args || []));
  },
  socketsJoin(io, cmd) {
    operator(io, cmd).socketsJoin(cmd.rooms);
    return null;
  },
  socketsLeave(io, cmd) {
    operator(io, cmd).socketsLeave(cmd.rooms);
    return null;
  },
  disconnectSockets(io, cmd) {
    operator(io, cmd).disconnectSockets(!!cmd.close);
    return null;
  },
  // This server's own sockets of a namespace (no cluster request): for assertions.
  localSockets(io, cmd) {
    return [...io.of(cmd.nsp || "/").sockets.values()].map(describeSocket);
  },
  // Replaces socket.data of one of this server's sockets.
  setData(io, cmd) {
    const socket = io.of(cmd.nsp || "/").sockets.get(cmd.sid);
    if (!socket) throw new Error(`no local socket ${cmd.sid}`);
    socket.data = fromWire(cmd.data);
    return null;
  },
  // Resolves once Redis acknowledged every subscription the adapters asked for so far.
  async settle() {
    await settle();
    return null;
  },
};

// -- the server -------------------------------------------------------------------------------

// The running server, once started; stop() closes what exists.
const running = { io: null, clients: [] };
let stopping = false;

async function stop() {
  if (stopping) return;
  stopping = true;
  if (running.io) {
    try {
      await running.io.close();
    } catch (err) {
      note(`close failed: ${err}`);
    }
  }
  await settle(); // the adapters' unsubscriptions, before the connections go
  await Promise.allSettled(running.clients.map((client) => client.disconnect()));
  process.exit(0);
}

async function main() {
  // Commands are read from the start, so "exit" (or stdin EOF, or SIGTERM) works at any time.
  const input = readline.createInterface({ input: process.stdin });
  input.on("line", (line) => onCommandLine(line).catch((err) => note(`command failed: ${err}`)));
  input.on("close", stop);
  process.on("SIGTERM", stop);

  const [pub, sub] = await redisClients();
  running.clients = [pub, sub];
  const adapter = config.mode === "sharded"
    ? createShardedAdapter(pub, sub, {
      channelPrefix: config.key,
      subscriptionMode: config.subscriptionMode || "dynamic",
    })
    : createAdapter(pub, sub, {
      key: config.key,
      requestsTimeout: config.requestsTimeout || 5000,
      publishOnSpecificResponseChannel: !!config.publishOnSpecificResponseChannel,
    });
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter });
  running.io = io;

  for (const name of NAMESPACES) {
    const nsp = io.of(name);
    // Clients tell the server their name and rooms in `auth`.
    nsp.use((socket, next) => {
      const auth = socket.handshake.auth || {};
      socket.data = { name: auth.name, server: "node" };
      next();
    });
    nsp.on("connection", (socket) => {
      const auth = socket.handshake.auth || {};
      socket.join(auth.rooms || []);
      send({ event: "connection", nsp: name, id: socket.id });
      socket.on("disconnect", (reason) => {
        send({ event: "disconnect", nsp: name, id: socket.id, reason });
      });
    });
    // Server-side events from the other servers of the cluster.
    nsp.on("hello", (...args) => {
      send({ event: "serverSide", nsp: name, name: "hello", args });
    });
    nsp.on("hello-ack", (arg, cb) => {
      send({ event: "serverSide", nsp: name, name: "hello-ack", args: [arg] });
      cb({ server: "node", got: arg });
    });
    // Report server-side events that no handler above listens to (the adapter calls this
    // method for every SERVER_SIDE_EMIT it accepts).
    const onServerSideEmit = nsp._onServerSideEmit.bind(nsp);
    nsp._onServerSideEmit = (args) => {
      if (nsp.listenerCount(args[0]) === 0) {
        const plain = args.slice(1).filter((a) => typeof a !== "function");
        send({ event: "serverSide", nsp: name, name: args[0], args: plain });
      }
      onServerSideEmit(args);
    };
  }

  httpServer.listen(config.port || 0, config.host || "127.0.0.1", async () => {
    note(`listening; waiting for ${pendingSubscriptions.size} subscriptions`);
    await settle();
    send({ ready: httpServer.address().port, uid: io.of("/").adapter.uid });
  });
}

async function onCommandLine(line) {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    send({ id: null, error: `bad command line: ${err.message}` });
    return;
  }
  if (cmd.op === "exit") {
    send({ id: cmd.id, result: null });
    await stop();
    return;
  }
  const handler = COMMANDS[cmd.op];
  if (!handler) {
    send({ id: cmd.id, error: `unknown op ${cmd.op}` });
    return;
  }
  if (!running.io) {
    send({ id: cmd.id, error: "the server is not started yet" });
    return;
  }
  try {
    send({ id: cmd.id, result: (await handler(running.io, cmd)) ?? null });
  } catch (err) {
    send({ id: cmd.id, error: err.message || String(err), responses: err.responses });
  }
}

main().catch((err) => {
  process.stderr.write(`node_server failed: ${err && err.stack}\n`);
  process.exit(1);
});
