// Publishes with @socket.io/postgres-emitter 0.1, then exits: the Node emitter of the
// PostgreSQL interop tests.
//
// Usage: node node_pg_emitter.js '<json>'
//   json: {postgres: "postgresql://...", key: "socket.io", tableName: "socket_io_attachments",
//          ops: [op, ...]}   (ops as in node_emitter.js)
//   op:   {op: "emit", event, args, nsp?, to?: [...], except?: [...]}
//         {op: "socketsJoin" | "socketsLeave", rooms: [...], nsp?, to?, except?}
//         {op: "disconnectSockets", close?: bool, nsp?, to?, except?}
//         {op: "serverSideEmit", event, args, nsp?}
// Binary arguments are given as {"$bin": "<hex>"}. The process exits 0 once PostgreSQL has
// answered every query the emitter made, 1 if one of them failed.
//
// Two upstream traits, kept as they are:
// * the messages carry no top-level `nsp` (only the packet inside has one), so servers on
//   @socket.io/postgres-adapter 0.5 drop them; sioadapter's nodes accept them;
// * `emitter.of(nsp)` forgets channelPrefix and tableName (it falls back to "socket.io"): a
//   namespace other than "/" gets an Emitter of its own here, built with the options.
"use strict";

const { Pool } = require("pg");
const { Emitter, BroadcastOperator } = require("@socket.io/postgres-emitter");
const { fromWire } = require("./node_peer");

// The emitter returns none of its publish promises (and its error path calls this.emit on a
// BroadcastOperator, which publishes an "error" event): keep them, and every query's outcome.
const publishes = [];
const publish = BroadcastOperator.prototype.publish;
BroadcastOperator.prototype.publish = function (document) {
  const promise = publish.call(this, document);
  publishes.push(promise);
  return promise;
};

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const pool = new Pool({ connectionString: spec.postgres, max: 1 }); // one connection: in order
  const failures = [];
  const query = pool.query.bind(pool);
  pool.query = (...args) => {
    const promise = query(...args);
    promise.catch((err) => failures.push(`${args[0]}: ${err.message}`));
    return promise;
  };
  const options = { channelPrefix: spec.key, tableName: spec.tableName };
  const emitters = new Map();
  const emitterOf = (nsp) => {
    if (!emitters.has(nsp)) emitters.set(nsp, new Emitter(pool, nsp, options));
    return emitters.get(nsp);
  };
  for (const op of spec.ops) {
    let selected = emitterOf(op.nsp || "/");
    if (op.to && op.to.length) selected = selected.to(op.to);
    if (op.except && op.except.length) selected = selected.except(op.except);
    const args = fromWire(op.args || []);
    switch (op.op) {
      case "emit":
        selected.emit(op.event, ...args);
        break;
      case "socketsJoin":
        selected.socketsJoin(op.rooms);
        break;
      case "socketsLeave":
        selected.socketsLeave(op.rooms);
        break;
      case "disconnectSockets":
        selected.disconnectSockets(!!op.close);
        break;
      case "serverSideEmit":
        selected.serverSideEmit(op.event, ...args);
        break;
      default:
        throw new Error(`unknown op ${op.op}`);
    }
    // An attachment publish is INSERT, then NOTIFY: finish each op before the next one, so
    // that the NOTIFYs go out in the order of the ops (and the final marker comes last).
    await Promise.allSettled(publishes);
  }
  await pool.end();
  if (failures.length) throw new Error(`queries failed: ${failures.join("; ")}`);
}

main().catch((err) => {
  process.stderr.write(`node_pg_emitter failed: ${err && err.stack}\n`);
  process.exit(1);
});
