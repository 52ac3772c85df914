// One Node.js Socket.IO server of a mixed Python/Node cluster on PostgreSQL
// (@socket.io/postgres-adapter 0.5), driven by a Python test.
//
// Usage: node node_pg_server.js '<json config>'
//   config: {port: 0, host: "127.0.0.1",
//            postgres: "postgresql://postgres@127.0.0.1:5432/test",  (pg.Pool connectionString)
//            key: "socket.io",                      (the adapter's channelPrefix)
//            tableName: "socket_io_attachments",    (the attachments table; Node never creates it)
//            poolMax: 10,                           (pg.Pool max: one client LISTENs, the rest publish)
//            heartbeatInterval: 5000, heartbeatTimeout: 10000, payloadThreshold: 8000,
//            cleanupInterval: 30000,                (adapter options, ms / bytes; adapter defaults)
//            socketio: "socket.io",                 (the package: "socket.io-4.8.1" is the alias)
//            announce: true}                        (false: no adapter.init() at startup, as a
//                                                    4.8.1 server of a real deployment)
//
// The server, its handlers and the JSON-lines protocol are node_peer.js's. Extra commands:
//   {"op": "listening"}   the channels the adapter's LISTEN connection listens to
//   {"op": "announce"}    publishes an INITIAL_HEARTBEAT in every namespace (adapter.init())
//   {"op": "socketioVersion"}  the version of the socket.io package the server runs
"use strict";

const { Pool } = require("pg");
const { createAdapter } = require("@socket.io/postgres-adapter");
const { note, start } = require("./node_peer");

const config = JSON.parse(process.argv[2] || "{}");
const key = config.key || "socket.io";
const LISTEN_WAIT_MS = 15000;

const pool = new Pool({ connectionString: config.postgres, max: config.poolMax || 10 });
// An idle client that loses its connection would otherwise crash the process.
pool.on("error", (err) => note(`pg pool error: ${err}`));

// The adapter publishes with pool.query() without returning the promise to anyone: track every
// query so that "settle" (and stop) can wait until PostgreSQL has answered them all.
const pendingQueries = new Set();
const poolQuery = pool.query.bind(pool);
pool.query = (...args) => {
  const promise = poolQuery(...args);
  pendingQueries.add(promise);
  promise.catch(() => {}).finally(() => pendingQueries.delete(promise));
  return promise;
};

async function drainQueries() {
  // An attachment publish is INSERT, then NOTIFY once the INSERT answered: let the follow-up
  // query be issued (a macrotask turn) before deciding that nothing is pending.
  do {
    await Promise.allSettled([...pendingQueries]);
    await new Promise((resolve) => setImmediate(resolve));
  } while (pendingQueries.size > 0);
}

// The adapter's LISTEN connection: PubSubClient sets `.client` once its first LISTENs are done
// (no event says so, hence the bounded poll).
async function listenClient(io) {
  const pubsub = io.of("/").adapter.client;
  const deadline = Date.now() + LISTEN_WAIT_MS;
  while (!pubsub.client) {
    if (Date.now() > deadline) throw new Error(`no LISTEN connection after ${LISTEN_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return pubsub.client;
}

async function listening(io) {
  // One connection answers in order: once this returns, every LISTEN sent before it is done.
  const result = await (await listenClient(io)).query("SELECT pg_listening_channels() AS channel");
  return result.rows.map((row) => row.channel).sort();
}

async function settle(io) {
  await drainQueries();
  const channels = await listening(io);
  const missing = [...io._nsps.keys()].map((nsp) => `${key}#${nsp}`)
    .filter((channel) => !channels.includes(channel));
  if (missing.length) throw new Error(`not listening to ${missing.join(", ")}`);
}

// socket.io 4.8.2+ calls adapter.init() (INITIAL_HEARTBEAT) when it makes each namespace, which
// may be before the LISTEN is in place: the peers' HEARTBEAT answers are then missed, and this
// server counts them only at their next heartbeat (up to heartbeatInterval later). Announcing
// again once listening makes the cluster converge at once. (4.8.1 never calls init() at all.)
async function announce(io) {
  for (const nsp of io._nsps.values()) nsp.adapter.init();
  await drainQueries();
}

const adapterOptions = {
  channelPrefix: key,
  tableName: config.tableName || "socket_io_attachments",
  errorHandler: (err) => note(`adapter error: ${err && err.stack}`),
};
for (const name of ["heartbeatInterval", "heartbeatTimeout", "payloadThreshold", "cleanupInterval"]) {
  if (config[name] !== undefined) adapterOptions[name] = config[name];
}

start(
  {
    async adapter() {
      await pool.query("SELECT 1"); // fail early, with PostgreSQL's reason, if it is unreachable
      note("connected to PostgreSQL");
      return createAdapter(pool, adapterOptions);
    },
    settle,
    announce: config.announce === false ? null : announce,
    flush: drainQueries,
    async close() {
      await drainQueries();
      await pool.end();
    },
    commands: {
      listening,
      socketioVersion() {
        // Its package.json is not in its "exports": read it next to its main file (dist/).
        const main = require.resolve(config.socketio || "socket.io");
        const file = require("path").join(require("path").dirname(main), "..", "package.json");
        return JSON.parse(require("fs").readFileSync(file, "utf8")).version;
      },
      async announce(io) {
        await announce(io);
        return null;
      },
    },
  },
  config,
);
