// Publishes with @socket.io/redis-emitter, then exits: the Node emitter of the interop tests.
//
// Usage: node node_emitter.js '<json>'
//   json: {redis: "redis://127.0.0.1:6379/0", key: "socket.io", ops: [op, ...]}
//   op:   {op: "emit", event, args, nsp?, to?: [...], except?: [...]}
//         {op: "socketsJoin" | "socketsLeave", rooms: [...], nsp?, to?, except?}
//         {op: "disconnectSockets", close?: bool, nsp?, to?, except?}
//         {op: "serverSideEmit", event, args, nsp?}
// Binary arguments are given as {"$bin": "<hex>"}. The operations are published in order on one
// connection; the process exits 0 once Redis has acknowledged them all.
"use strict";

const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

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

// The emitter (or BroadcastOperator) for one operation's namespace and targets.
function target(emitter, op) {
  let selected = op.nsp && op.nsp !== "/" ? emitter.of(op.nsp) : emitter;
  if (op.to && op.to.length) selected = selected.to(op.to);
  if (op.except && op.except.length) selected = selected.except(op.except);
  return selected;
}

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const client = createClient({ url: spec.redis });
  client.on("error", (err) => process.stderr.write(`redis error: ${err}\n`));
  await client.connect();
  const emitter = new Emitter(client, { key: spec.key });
  for (const op of spec.ops) {
    const selected = target(emitter, op);
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
  }
  // The emitter does not return its PUBLISH promises; QUIT is answered after them (one
  // connection, commands in order), so everything is published once it resolves.
  await client.quit();
}

main().catch((err) => {
  process.stderr.write(`node_emitter failed: ${err && err.stack}\n`);
  process.exit(1);
});
