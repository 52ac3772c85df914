// One Node.js Socket.IO server of a mixed Python/Node cluster on Redis, driven by a Python test.
//
// Usage: node node_server.js '<json config>'
//   config: {port: 0, host: "127.0.0.1", mode: "classic" | "sharded", key: "socket.io",
//            redis: "redis://127.0.0.1:6379/0"        (classic, standalone Redis)
//            cluster: ["redis://127.0.0.1:7000", ...]   (a Redis Cluster: createCluster)
//            requestsTimeout: 5000,                      (classic adapter option, ms)
//            publishOnSpecificResponseChannel: false,    (classic adapter option)
//            subscriptionMode: "dynamic"}                (sharded adapter option)
//
// The server, its handlers and the JSON-lines protocol are node_peer.js's; this file makes the
// @socket.io/redis-adapter and tracks its subscriptions.
"use strict";

const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { createClient, createCluster } = require("redis");
const { note, start } = require("./node_peer");

const config = JSON.parse(process.argv[2] || "{}");

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

const clients = [];

start(
  {
    async adapter() {
      const [pub, sub] = await redisClients();
      clients.push(pub, sub);
      return config.mode === "sharded"
        ? createShardedAdapter(pub, sub, {
          channelPrefix: config.key,
          subscriptionMode: config.subscriptionMode || "dynamic",
        })
        : createAdapter(pub, sub, {
          key: config.key,
          requestsTimeout: config.requestsTimeout || 5000,
          publishOnSpecificResponseChannel: !!config.publishOnSpecificResponseChannel,
        });
    },
    settle,
    async close() {
      await Promise.allSettled(clients.map((client) => client.disconnect()));
    },
  },
  config,
);
