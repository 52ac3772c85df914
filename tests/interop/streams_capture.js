// Captures what @socket.io/redis-streams-adapter 0.3.x puts into Redis, for
// tests/fixtures/streams-node-captures.json (see tests/fixtures/README.md).
//
// Two socket.io 4.8 servers (A, B) on the streams adapter, one socket.io-client on each, and
// every operation driven from A (or B) in turn. After each operation the script collects:
//   * the new stream entries (raw XRANGE, fields in their stored order),
//   * every pub/sub message on "<channelPrefix>#*" (raw bytes, via PSUBSCRIBE with buffers),
//   * what the clients received.
// Connection state recovery: client B drops (transport close), B persists its session, A
// broadcasts meanwhile, and a new client on A presents B's pid and offset.
//
// Usage: node streams_capture.js <redis-url> <out.json>   (with socket.io, socket.io-client,
// @socket.io/redis-streams-adapter and redis 4 on NODE_PATH). Run redis-cli MONITOR beside it
// for the command shapes. Waits are bounded; nothing sleeps except the settle after each
// operation (pub/sub and XREAD deliveries have no completion signal to wait on).

"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const { decode, encode } = require("@msgpack/msgpack");
const fs = require("fs");

const [, , REDIS_URL, OUT] = process.argv;
const SETTLE_MS = 250;
const CSR = { maxDisconnectionDuration: 60000, skipMiddlewares: true };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function plain(value) {
  // JSON-friendly view of decoded msgpack: Buffers/Uint8Arrays as {"$bin": hex}, Dates as ISO.
  if (value instanceof Uint8Array) return { $bin: Buffer.from(value).toString("hex") };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    const out = {};
    for (const k of Object.keys(value)) out[k] = plain(value[k]);
    return out;
  }
  return value === undefined ? { $undefined: true } : value;
}

async function makeServer(name) {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(client),
    connectionStateRecovery: CSR,
  });
  const received = [];
  io.on("connection", (socket) => {
    socket.data = { server: name, n: 1 };
    if (socket.handshake.auth.room) socket.join(socket.handshake.auth.room);
  });
  io.on("hello", (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    received.push(["hello", ...args]);
    if (cb) cb(`pong from ${name}`);
  });
  io.of("/chat").on("connection", () => {});
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  return { name, io, client, httpServer, port: httpServer.address().port, received };
}

function connect(port, opts = {}, nsp = "/") {
  const socket = ioc(`http://127.0.0.1:${port}${nsp}`, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true, // one Manager (one connection) per client: a drop affects one client only
    ...opts,
  });
  const got = [];
  socket.onAny((...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    got.push(plain(args));
    if (cb) cb(args[0] === "ack-bin" ? Buffer.from([9, 8]) : `ack:${args[0]}`);
  });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("connect timeout")), 5000);
    socket.once("connect", () => {
      clearTimeout(t);
      resolve({ socket, got });
    });
  });
}

async function main() {
  const probe = createClient({ url: REDIS_URL });
  await probe.connect();
  const spy = probe.duplicate();
  await spy.connect();
  const pubsub = [];
  await spy.pSubscribe(
    "socket.io#*",
    (message, channel) => pubsub.push({ channel: channel.toString(), payload: message }),
    true,
  );

  const A = await makeServer("A");
  const B = await makeServer("B");
  await sleep(300); // both adapters' XREAD loops and SUBSCRIBEs are up
  const ca = await connect(A.port, { auth: { room: "room1" } });
  const cb = await connect(B.port, { auth: { room: "room1" } });
  const cb2 = await connect(B.port, { auth: { room: "room2" } });
  const cchat = await connect(B.port, {}, "/chat");
  await sleep(SETTLE_MS);

  let lastId = "0-0";
  const ops = [];
  async function op(name, from, fn) {
    const pubStart = pubsub.length;
    const gotStart = [ca, cb, cb2, cchat].map((c) => c.got.length);
    let result;
    try {
      result = await fn();
    } catch (e) {
      result = { error: String(e && e.message ? e.message : e) };
    }
    await sleep(SETTLE_MS);
    const raw = await probe.sendCommand(["XRANGE", "socket.io", "(" + lastId, "+"]);
    const entries = raw.map(([id, flat]) => {
      const fields = [];
      for (let i = 0; i < flat.length; i += 2) fields.push([flat[i], flat[i + 1]]);
      return { id, fields };
    });
    if (entries.length) lastId = entries[entries.length - 1].id;
    for (const e of entries) {
      const d = Object.fromEntries(e.fields).data;
      if (d !== undefined && !d.startsWith("{")) {
        e.data_msgpack_decoded = plain(decode(Buffer.from(d, "base64")));
      }
    }
    const messages = pubsub.slice(pubStart).map(({ channel, payload }) => ({
      channel,
      hex: Buffer.from(payload).toString("hex"),
      decoded: plain(decode(payload)),
    }));
    const clients = {};
    ["clientA", "clientB", "clientB2", "clientChat"].forEach((k, i) => {
      const c = [ca, cb, cb2, cchat][i];
      const news = c.got.slice(gotStart[i]);
      if (news.length) clients[k] = news;
    });
    ops.push({ op: name, from, stream: entries, pubsub: messages, clients, result: plain(result) });
  }

  const sidB = cb.socket.id;
  await op("io.emit('ev', 1, '2', {a: [true, null]}, 1.5)", "A", () =>
    A.io.emit("ev", 1, "2", { a: [true, null] }, 1.5),
  );
  await op("io.to('room1').emit('to-room')", "A", () => A.io.to("room1").emit("to-room", "x"));
  await op("io.to(['room1','room2']).except('room3').emit('multi')", "A", () =>
    A.io.to(["room1", "room2"]).except("room3").emit("multi"),
  );
  await op("io.except('room1').emit('except-room')", "A", () =>
    A.io.except("room1").emit("except-room"),
  );
  await op("io.to(<sid of client B>).emit('to-sid')", "A", () => A.io.to(sidB).emit("to-sid"));
  await op("io.to(42).emit('numeric-room')", "A", () => A.io.to(42).emit("numeric-room"));
  await op("io.volatile.emit('volatile')", "A", () => A.io.volatile.emit("volatile"));
  await op("io.compress(false).emit('nocompress')", "A", () =>
    A.io.compress(false).emit("nocompress"),
  );
  await op("io.emit('bin', Buffer<010203>, {x: Buffer<ff>, n: 1})", "A", () =>
    A.io.emit("bin", Buffer.from([1, 2, 3]), { x: Buffer.from([255]), n: 1 }),
  );
  await op("io.emit('bin-date', Buffer<00>, new Date(1700000000123), 2**40, -1, 'é')", "A", () =>
    A.io.emit("bin-date", Buffer.from([0]), new Date(1700000000123), 2 ** 40, -1, "é"),
  );
  await op("io.emit('date-json', new Date(1700000000123))", "A", () =>
    A.io.emit("date-json", new Date(1700000000123)),
  );
  await op("io.of('/chat').emit('chat-ev', 'hi')", "A", () =>
    A.io.of("/chat").emit("chat-ev", "hi"),
  );
  await op("io.timeout(2000).emitWithAck('ack-ev', 7)", "A", () =>
    A.io.timeout(2000).emitWithAck("ack-ev", 7),
  );
  await op("io.to('room2').timeout(2000).emitWithAck('ack-bin') (client acks Buffer<0908>)", "A", () =>
    A.io.to("room2").timeout(2000).emitWithAck("ack-bin"),
  );
  await op("io.fetchSockets()", "A", async () =>
    (await A.io.fetchSockets()).map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data })),
  );
  await op("io.in('room2').fetchSockets()", "A", async () =>
    (await A.io.in("room2").fetchSockets()).map((s) => s.id),
  );
  await op("(await io.in(<sid B>).fetchSockets())[0].timeout(2000).emitWithAck('single')", "A", async () => {
    const [s] = await A.io.in(sidB).fetchSockets();
    return s.timeout(2000).emitWithAck("single");
  });
  await op("(await io.in(<sid B>).fetchSockets())[0].emit('remote-emit')", "A", async () => {
    const [s] = await A.io.in(sidB).fetchSockets();
    s.emit("remote-emit", 1);
  });
  await op("io.socketsJoin('room3')", "A", () => A.io.socketsJoin("room3"));
  await op("io.in('room1').socketsLeave(['room3'])", "A", () =>
    A.io.in("room1").socketsLeave(["room3"]),
  );
  await op("io.serverSideEmit('hello', 'world', 1)", "A", () =>
    A.io.serverSideEmit("hello", "world", 1),
  );
  await op("io.serverSideEmit('hello', Buffer<0102>)", "A", () =>
    A.io.serverSideEmit("hello", Buffer.from([1, 2])),
  );
  await op("io.serverSideEmitWithAck('hello', 'ping')", "A", () =>
    A.io.serverSideEmitWithAck("hello", "ping"),
  );
  await op("adapter.serverCount()", "A", () => A.io.of("/").adapter.serverCount());
  await op("idle 6 s (heartbeatInterval is 5 s: is anything published?)", "-", () => sleep(6000));

  // Connection state recovery.
  let session = {};
  await op("client B drops (transport close): server B persists the session", "B", async () => {
    cb.socket.emit("noop"); // nothing; keep order
    const pid = cb.socket._pid;
    const offset = cb.socket._lastOffset;
    cb.socket.io.engine.close();
    let value = null;
    for (let i = 0; i < 50 && value === null; i++) {
      await sleep(50);
      value = await probe.get("sio:session:" + pid);
    }
    const pttl = await probe.pTTL("sio:session:" + pid);
    session = { pid, offset, sid: sidB };
    return {
      pid,
      offset,
      key: "sio:session:" + pid,
      value,
      value_decoded: value && plain(decode(Buffer.from(value, "base64"))),
      pttl,
    };
  });
  await op("while B's client is away: io.emit('missed-all', 1)", "A", () =>
    A.io.emit("missed-all", 1),
  );
  await op("while away: io.to('room1').emit('missed-room1')", "A", () =>
    A.io.to("room1").emit("missed-room1"),
  );
  await op("while away: io.except('room1').emit('not-for-b')", "A", () =>
    A.io.except("room1").emit("not-for-b"),
  );
  await op("while away: io.of('/chat').emit('other-nsp')", "A", () =>
    A.io.of("/chat").emit("other-nsp"),
  );
  let restored;
  await op("a client on server A presents B's pid and offset (auth {pid, offset})", "A", async () => {
    const recoveredOn = new Promise((r) => A.io.once("connection", (s) => r(s)));
    restored = await connect(A.port, { auth: { pid: session.pid, offset: session.offset } });
    const s = await recoveredOn;
    await sleep(SETTLE_MS);
    return {
      server_socket_recovered: s.recovered,
      server_socket_id: s.id,
      same_sid: s.id === session.sid,
      rooms: [...s.rooms],
      data: s.data,
      client_got: restored.got,
      key_after: await probe.get("sio:session:" + session.pid),
    };
  });
  await op("restore with an unknown pid", "A", async () => {
    const recoveredOn = new Promise((r) => A.io.once("connection", (s) => r(s)));
    const c = await connect(A.port, { auth: { pid: "nope", offset: session.offset } });
    const s = await recoveredOn;
    c.socket.close();
    return { server_socket_recovered: s.recovered };
  });

  // @socket.io/redis-streams-emitter is not on the npm registry: these entries are built the
  // way its source (socket.io monorepo, packages/socket.io-redis-streams-emitter/lib/index.ts,
  // flattenPayload + XADD) builds them, and written with the same command, so that the
  // adapters' reaction to them is captured.
  const emitterXadd = (type, data, nsp = "/", binary = false) =>
    probe.sendCommand([
      "XADD", "socket.io", "MAXLEN", "~", "10000", "*",
      "uid", "emitter", "nsp", nsp, "type", String(type),
      "data", binary ? Buffer.from(encode(data)).toString("base64") : JSON.stringify(data),
    ]);
  await op("emitter (derived): emit('from-emitter', 1) to all", "emitter", () =>
    emitterXadd(3, {
      packet: { type: 2, data: ["from-emitter", 1], nsp: "/" },
      opts: { rooms: [], flags: {}, except: [] },
    }),
  );
  await op("emitter (derived): to('room1').except('room2').volatile.compress(true).emit", "emitter", () =>
    emitterXadd(3, {
      packet: { type: 2, data: ["emitter-room"], nsp: "/" },
      opts: { rooms: ["room1"], flags: { volatile: true, compress: true }, except: ["room2"] },
    }),
  );
  await op("emitter (derived): emit('emitter-bin', Buffer<0a0b>)", "emitter", () =>
    emitterXadd(
      3,
      {
        packet: { type: 2, data: ["emitter-bin", Buffer.from([10, 11])], nsp: "/" },
        opts: { rooms: [], flags: {}, except: [] },
      },
      "/",
      true,
    ),
  );
  await op("emitter (derived): of('/chat').emit('emitter-chat')", "emitter", () =>
    emitterXadd(
      3,
      {
        packet: { type: 2, data: ["emitter-chat"], nsp: "/chat" },
        opts: { rooms: [], flags: {}, except: [] },
      },
      "/chat",
    ),
  );
  await op("emitter (derived): serverSideEmit('hello', 'from emitter')", "emitter", () =>
    emitterXadd(9, { packet: ["hello", "from emitter"] }),
  );
  await op("emitter (derived): in('room1').socketsJoin('room9')", "emitter", () =>
    emitterXadd(4, { opts: { rooms: ["room1"], except: [], flags: {} }, rooms: ["room9"] }),
  );
  await op("emitter (derived): socketsLeave(['room9'])", "emitter", async () => {
    const before = [...(A.io.of("/").adapter.rooms.get("room9") || [])];
    await emitterXadd(5, { opts: { rooms: [], except: [], flags: {} }, rooms: ["room9"] });
    return { room9_on_A_before: before };
  });
  await op("hello handlers so far", "-", () => ({ A: A.received, B: B.received }));
  await op("emitter (derived): in('nobody').disconnectSockets(false)", "emitter", () =>
    emitterXadd(6, { opts: { rooms: ["nobody"], except: [], flags: {} }, close: false }),
  );

  await op("io.in('room2').disconnectSockets()", "A", () => A.io.in("room2").disconnectSockets());
  await op("io.disconnectSockets(true)", "A", () => A.io.disconnectSockets(true));
  await op("server B io.close()", "B", async () => {
    await B.io.close();
  });

  const info = await probe.sendCommand(["XINFO", "STREAM", "socket.io"]);
  fs.writeFileSync(OUT, JSON.stringify({ ops, xinfo: info.map(String) }, null, 1));
  await A.io.close();
  for (const c of [probe, spy, A.client, B.client]) {
    try {
      await c.quit();
    } catch (e) {}
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
