// One Node.js Socket.IO server of a mixed Python/Node cluster on Redis streams
// (@socket.io/redis-streams-adapter 0.3.1), driven by a Python test.
//
// Usage: node node_streams_server.js '<json config>'
//   config: {port: 0, host: "127.0.0.1",
//            redis: "redis://127.0.0.1:6379/0",     (createClient url; the adapter duplicates it)
//            key: "socket.io",                      (the adapter's channelPrefix)
//            streamName: "socket.io",               (the stream, or the prefix with streamCount > 1)
//            streamCount: 1, maxLen: 10000, readCount: 100, blockTimeInMs: 5000,
//            onlyPlaintext: false,
//            sessionKeyPrefix: "sio:session:"}      (adapter options; adapter defaults when absent)
//   and node_peer.js's serverOptions, such as {connectionStateRecovery: {maxDisconnectionDuration}}
//
// The server, its handlers and the JSON-lines protocol are node_peer.js's. Extra commands:
//   {"op": "readers"}   the Redis client ids of the adapter's XREAD connections
//
// Readiness ("ready" and the "settle" command): Redis acknowledged the SUBSCRIBEs of the
// public and private channels, and every XREAD connection is blocked in XREAD. The adapter
// starts reading at "$", resolved by Redis when the XREAD arrives: an entry XADDed before that
// would never reach this server, so nothing may be published before the readers block.
"use strict";

const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const { note, start } = require("./node_peer");

const config = JSON.parse(process.argv[2] || "{}");
const READER_WAIT_MS = 15000;
const ADAPTER_OPTIONS = ["streamName", "streamCount", "maxLen", "readCount", "blockTimeInMs",
  "onlyPlaintext", "sessionKeyPrefix"];

// Promises the adapter does not hand back to anyone (SUBSCRIBE, XADD, PUBLISH): kept so that
// "settle" and the shutdown can wait until Redis answered them all.
const pending = new Set();

function track(promise) {
  const tracked = Promise.resolve(promise);
  pending.add(tracked);
  tracked.catch((err) => note(`redis command failed: ${err}`))
    .finally(() => pending.delete(tracked));
  return tracked;
}

function trackMethods(client, names) {
  for (const name of names) {
    const original = client[name].bind(client);
    client[name] = (...args) => track(original(...args));
  }
}

// The adapter's XREAD connections, each with its Redis client id (known before its first XREAD:
// duplicateClient() awaits connect(), and the id is fetched inside connect()).
const readers = new Map();

function instrumentDuplicates(client) {
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (...args) => {
    const copy = duplicate(...args);
    trackMethods(copy, ["subscribe", "sSubscribe", "unsubscribe", "sUnsubscribe"]);
    const connect = copy.connect.bind(copy);
    copy.connect = async () => {
      const result = await connect();
      copy.sioClientId = await copy.clientId();
      return result;
    };
    const xRead = copy.xRead.bind(copy);
    copy.xRead = (...xargs) => {
      readers.set(copy, copy.sioClientId);
      return xRead(...xargs);
    };
    return copy;
  };
}

async function drain() {
  while (pending.size > 0) await Promise.allSettled([...pending]);
}

// Bounded poll: that a connection is blocked is visible only in CLIENT LIST.
async function readersBlocked(client) {
  const expected = config.streamCount || 1;
  const deadline = Date.now() + READER_WAIT_MS;
  for (;;) {
    if (readers.size >= expected) {
      const ids = [...readers.values()].map(String);
      const list = await client.sendCommand(["CLIENT", "LIST", "ID", ...ids]);
      const blocked = list.split("\n").filter((line) => /\bflags=\S*b/.test(line)
        && /\bcmd=xread\b/.test(line));
      if (blocked.length === ids.length) return;
    }
    if (Date.now() > deadline) {
      throw new Error(`${readers.size}/${expected} XREAD connections, not all blocked, after ${READER_WAIT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const main = createClient({ url: config.redis });
let lastError = "";
main.on("error", (err) => {
  // node-redis retries forever: report each new error once, not every retry.
  if (String(err) !== lastError) note(`redis error: ${(lastError = String(err))}`);
});
trackMethods(main, ["xAdd", "publish", "sPublish"]);
instrumentDuplicates(main);

const adapterOptions = { channelPrefix: config.key || "socket.io" };
for (const name of ADAPTER_OPTIONS) {
  if (config[name] !== undefined) adapterOptions[name] = config[name];
}

start(
  {
    async adapter() {
      await main.connect();
      note("connected to Redis");
      return createAdapter(main, adapterOptions);
    },
    async settle() {
      await drain();
      await readersBlocked(main);
    },
    flush: drain,
    async close() {
      await drain();
      await main.disconnect();
    },
    commands: {
      readers() {
        return [...readers.values()];
      },
    },
  },
  config,
);
