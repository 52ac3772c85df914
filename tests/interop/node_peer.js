// The broker-neutral half of a Node.js Socket.IO peer of the interop tests: the socket.io
// server, its event handlers, and the JSON-lines command protocol. node_server.js (Redis) and
// node_pg_server.js (PostgreSQL) each supply the adapter; everything a Python test sees of a
// Node server is here, so the same Python scenarios apply to every broker.
//
// Protocol, one JSON object per line:
//   stdout, once listening and subscribed:  {"ready": <port>, "uid": "<adapter uid of />"}
//   stdin, commands:                         {"id": n, "op": "...", ...fields}
//   stdout, answers:                         {"id": n, "result": ...} or {"id": n, "error": "..."}
//   stdout, unsolicited reports:             {"event": "serverSide", "nsp", "name", "args"}
//                                            {"event": "connection", "nsp", "id", "recovered"}
//                                            {"event": "disconnect", "nsp", "id", "reason"}
// Client events every socket answers (with an ack), as tests/live/procnode.py does on Python
// nodes: "join" (room) joins it, "remember" (data) replaces socket.data, "recall" answers
// {session: socket.data, rooms: sorted, recovered: socket.recovered}.
// config.serverOptions: more options of `new Server` (such as connectionStateRecovery).
// Binary values travel as {"$bin": "<hex>"} both ways. The server stops on {"op": "exit"} or
// when stdin closes (the Python side then also kills it by PID).
"use strict";

const http = require("http");
const readline = require("readline");
// The socket.io package the server runs: "socket.io" (package.json's version) unless the
// config's `socketio` names another install of it, such as the "socket.io-4.8.1" alias.
function serverClass(config) {
  return require(config.socketio || "socket.io").Server;
}

const NAMESPACES = ["/", "/custom"];

// Progress notes on stderr: the Python side shows them when the server fails to start.
function note(text) {
  process.stderr.write(`[${process.argv[1].split("/").pop()} ${new Date().toISOString()}] ${text}\n`);
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
};

// -- the server -------------------------------------------------------------------------------

/**
 * Runs one peer until "exit", stdin EOF or SIGTERM. `transport` supplies the broker side:
 *
 *   adapter:   async () => the `adapter` option of `new Server` (connected to the broker);
 *   settle:    async (io) => resolves once the broker acknowledged every subscription the
 *              adapters asked for so far (also the "settle" command);
 *   announce:  async (io) => optional, run once listening and settled, before "ready";
 *   flush:     async () => optional, run after io.close(): waits for the adapters' last
 *              messages (default: settle);
 *   close:     async () => closes the broker connections (after io.close() and settle);
 *   commands:  optional extra commands, {name: (io, cmd) => result}.
 */
function runPeer(transport) {
  // The running server, once started; stop() closes what exists.
  const running = { io: null };
  let stopping = false;
  const commands = {
    ...COMMANDS,
    async settle(io) {
      await transport.settle(io);
      return null;
    },
    ...(transport.commands || {}),
  };

  async function stop() {
    if (stopping) return;
    stopping = true;
    if (running.io) {
      try {
        await running.io.close();
      } catch (err) {
        note(`close failed: ${err}`);
      }
      // The adapters' last messages (unsubscriptions, ADAPTER_CLOSE), before the connections go.
      await (transport.flush ? transport.flush() : transport.settle(running.io));
    }
    try {
      await transport.close();
    } catch (err) {
      note(`broker close failed: ${err}`);
    }
    process.exit(0);
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
    const handler = commands[cmd.op];
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

  async function main(config) {
    // Commands are read from the start, so "exit" (or stdin EOF, or SIGTERM) works at any time.
    const input = readline.createInterface({ input: process.stdin });
    input.on("line", (line) => onCommandLine(line).catch((err) => note(`command failed: ${err}`)));
    input.on("close", stop);
    process.on("SIGTERM", stop);

    const adapter = await transport.adapter();
    const httpServer = http.createServer();
    const Server = serverClass(config);
    const io = new Server(httpServer, { ...(config.serverOptions || {}), adapter });
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
        send({ event: "connection", nsp: name, id: socket.id, recovered: !!socket.recovered });
        socket.on("join", (room, ack) => {
          socket.join(room);
          ack(room);
        });
        socket.on("remember", (data, ack) => {
          socket.data = data;
          ack(data);
        });
        socket.on("recall", (ack) => {
          ack({ session: socket.data, rooms: [...socket.rooms].sort(), recovered: !!socket.recovered });
        });
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
      note("listening; waiting for the subscriptions");
      try {
        await transport.settle(io);
        if (transport.announce) await transport.announce(io);
      } catch (err) {
        note(`not ready: ${err && err.stack}`);
        process.exit(1);
      }
      send({ ready: httpServer.address().port, uid: io.of("/").adapter.uid });
    });
  }

  return main;
}

function start(transport, config) {
  runPeer(transport)(config).catch((err) => {
    process.stderr.write(`${process.argv[1]} failed: ${err && err.stack}\n`);
    process.exit(1);
  });
}

module.exports = { NAMESPACES, fromWire, note, send, start, toWire };
