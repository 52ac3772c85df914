// One Node.js Socket.IO node of a benchmark cluster, run as its own process: the baseline
// @socket.io/redis-adapter, with the packages of tests/interop (socket.io 4.8, adapter 8.3,
// redis 4.7).
//
// Usage: node node_js.js '<json config>' (run with NODE_PATH=tests/interop/node_modules).
// Config: the same keys and roles as benchmarks/node_python.py (contender "node"):
//   role: sender | receiver | requester | responder; redis; key (the adapter's `key`);
//   n, k, room, rate, latency, sockets, requests, nodes, timeout, name; payload (bytes of
//   padding string "p" in each broadcast, none by default); requests_timeout (seconds, 5 by
//   default), and for a requester ops (default ["fetch_sockets", "server_side_call"], or
//   "server_count") and warmup (untimed calls of each first, 10 by default); warm (broadcasts
//   of the warm-up, benchmarks/warm.py: the sender emits them, then "warmed" to room "ctl",
//   prints {"warmed": true} and waits for a line "go" on stdin; a receiver counts warm
//   deliveries apart and prints {"warmed": true} once it has the marker and all of them).
//
// Sockets: a socket.io Server with createAdapter(pub, sub, {key}); each socket is registered as
// the server registers a connected one (namespace.sockets and adapter.addAll(id, rooms)), with
// socket.client.writeToEngine (the adapter's per-recipient write of the packet it encoded once)
// replaced by a counter: the same cut as python-socketio's _send_eio_packet on the Python side.
// Each receiver also holds a socket "ctl" in room "ctl" where the sender emits "start" and "end"
// around its broadcasts (the CPU window).
//
// Output, one JSON object per line: {"ready": true}, {"warmed": true} after a warm-up, then
// {"result": {...}} or {"error": "..."}.
// Payload times are process.hrtime (CLOCK_MONOTONIC), as Python's time.monotonic().
"use strict";

const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const cfg = JSON.parse(process.argv[2] || "{}");
const mono = () => Number(process.hrtime.bigint()) / 1e9;
const cpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
const line = (fields) => process.stdout.write(JSON.stringify(fields) + "\n");
const sleep = (s) => new Promise((resolve) => setTimeout(resolve, Math.max(0, s * 1000)));

function percentile(values, q) {
  if (!values.length) return null;
  const ordered = Float64Array.from(values).sort();
  const pos = ((ordered.length - 1) * q) / 100;
  const low = Math.floor(pos);
  const high = Math.min(low + 1, ordered.length - 1);
  return ordered[low] + (ordered[high] - ordered[low]) * (pos - low);
}

function summary(values) {
  if (!values.length) return { n: 0, p50: null, p99: null, mean: null, max: null };
  let sum = 0;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v > max) max = v;
  }
  const p50 = percentile(values, 50);
  const p99 = percentile(values, 99);
  return { n: values.length, p50, p99, mean: sum / values.length, max };
}

// The orchestrator's "go" (benchmarks/warm.py), read from stdin as it arrives.
let stdinText = "";
let onStdin = () => {};
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  stdinText += chunk;
  onStdin();
});

function waitGo(timeout) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "go" on stdin within ${timeout} s`)), timeout * 1000);
    onStdin = () => {
      if (!stdinText.includes("\n")) return;
      clearTimeout(timer);
      const first = stdinText.split("\n")[0].trim();
      if (first === "go") resolve();
      else reject(new Error(`expected "go" on stdin, read ${JSON.stringify(first)}`));
    };
    onStdin(); // it may have come already
  });
}

// Subscriptions are sent without being awaited by the adapter: keep their promises.
const pendingSubscriptions = [];

// contender "node-streams": @socket.io/redis-streams-adapter on one client, its stream named
// after the key. Ready once its reader blocks in XREAD: it reads from "$", so what is written
// before its first read would never reach it.
async function makeStreamsServer() {
  const { createAdapter: createStreamsAdapter } = require("@socket.io/redis-streams-adapter");
  const client = createClient({ url: cfg.redis });
  await client.connect();
  // maxLen: the stream holds the whole run (node_python.py STREAM_MAX_LEN), nothing trimmed.
  const adapter = createStreamsAdapter(client, {
    streamName: cfg.key,
    channelPrefix: cfg.key,
    maxLen: 10000000,
  });
  const io = new Server({ adapter });
  io.of("/");
  for (let i = 0; i < 500; i++) {
    const clients = await client.sendCommand(["CLIENT", "LIST"]);
    if (clients.split("\n").filter((c) => c.includes("cmd=xread")).length >= (cfg.expect_readers || 0)) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { io, pub: client };
}

async function makeServer() {
  if (cfg.contender === "node-streams") return makeStreamsServer();
  const pub = createClient({ url: cfg.redis });
  const sub = pub.duplicate();
  for (const name of ["subscribe", "pSubscribe"]) {
    const original = sub[name].bind(sub);
    sub[name] = (...args) => {
      const promise = Promise.resolve(original(...args));
      pendingSubscriptions.push(promise);
      return promise;
    };
  }
  await Promise.all([pub.connect(), sub.connect()]);
  // requests_timeout (scaling_rooms: large fetchSockets answers): the adapter's, in ms
  const requestsTimeout = (cfg.requests_timeout || 5) * 1000;
  const io = new Server({ adapter: createAdapter(pub, sub, { key: cfg.key, requestsTimeout }) });
  await Promise.all(pendingSubscriptions);
  return { io, pub };
}

function addSocket(nsp, id, room, write) {
  const rooms = new Set([id, room]);
  const socket = {
    id,
    rooms,
    data: {},
    handshake: {
      headers: { host: "127.0.0.1", "user-agent": "bench" },
      time: new Date().toString(),
      address: "127.0.0.1",
      xdomain: false,
      secure: false,
      issued: Date.now(),
      url: "/socket.io/?EIO=4&transport=websocket",
      query: { EIO: "4", transport: "websocket" },
      auth: {},
    },
    client: { writeToEngine: (packets) => write(id, packets[0]) },
  };
  nsp.sockets.set(id, socket);
  nsp.adapter.addAll(id, rooms);
}

async function receiver(io) {
  const n = cfg.n;
  const k = cfg.k;
  const expected = cfg.room === "room1" ? n * k : 0;
  const grace = cfg.grace || 2.0;
  const st = { count: 0, first: 0, last: 0, started: false, ended: false, finished: false };
  // the warm-up's deliveries, counted apart (benchmarks/warm.py's Warmup)
  const warm = { active: (cfg.warm || 0) > 0, expected: cfg.room === "room1" ? (cfg.warm || 0) * k : 0, count: 0, marked: false };
  const warmCheck = () => {
    if (warm.active && warm.marked && warm.count >= warm.expected) {
      warm.active = false;
      line({ warmed: true });
    }
  };
  const samples = [];
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  const finish = () => {
    if (st.finished) return;
    st.finished = true;
    st.tEnd = mono();
    st.cpuEnd = cpuSeconds();
    resolveDone();
  };
  const onPacket = (id, data) => {
    const now = mono();
    if (id === "ctl") {
      if (data.startsWith('2["start"')) {
        st.started = true;
        st.tStart = now;
        st.cpuStart = cpuSeconds();
        st.emitted = JSON.parse(data.slice(1))[1].t;
      } else if (data.startsWith('2["end"')) {
        st.ended = true;
        if (st.count >= expected) finish();
        else setTimeout(finish, grace * 1000);
      } else if (data.startsWith('2["warmed"')) {
        warm.marked = true;
        warmCheck();
      }
      return;
    }
    if (warm.active) {
      // a warm-up delivery: not one of the measured run's
      warm.count += 1;
      warmCheck();
      return;
    }
    if (!st.count) st.first = now;
    st.count += 1;
    st.last = now;
    if (cfg.latency) samples.push((now - JSON.parse(data.slice(1))[1].t) * 1000);
    if (st.ended && st.count >= expected) finish();
  };
  const nsp = io.of("/");
  for (let i = 0; i < k; i++) addSocket(nsp, `eio${i}`, cfg.room, onPacket);
  addSocket(nsp, "ctl", "ctl", onPacket);
  line({ ready: true });
  const timer = setTimeout(finish, (cfg.timeout || 120) * 1000);
  await done;
  clearTimeout(timer);
  // The same figures as benchmarks/stats.py's rates(): end to end, and B's own span.
  const e2e = st.last - (st.emitted || 0);
  const span = st.last - st.first;
  const cpu = st.started ? st.cpuEnd - st.cpuStart : null;
  const result = {
    received: st.count,
    expected,
    complete: st.ended && st.count >= expected,
    seconds: e2e,
    deliveries_per_s: st.count && e2e > 0 ? st.count / e2e : 0,
    broadcasts_per_s: st.count && k && e2e > 0 ? st.count / k / e2e : 0,
    span_seconds: span,
    span_broadcasts_per_s: st.count && k && span > 0 ? st.count / k / span : 0,
    cpu_s: cpu,
    window_s: st.started ? st.tEnd - st.tStart : null,
    cpu_per_10k: cpu === null ? null : (cpu / n) * 10000,
  };
  if (cfg.latency) result.latency_ms = summary(samples);
  line({ result });
}

async function sender(io, pub) {
  const n = cfg.n;
  const rate = cfg.rate || 0;
  // scaling_cluster's padding; without it, the payload is the suite's usual {i, t}
  const pad = cfg.payload ? { p: "x".repeat(cfg.payload) } : {};
  line({ ready: true });
  if (cfg.warm) {
    // the warm-up: flat out whatever the rate, the marker, then wait for the orchestrator
    for (let i = 0; i < cfg.warm; i++) io.to("room1").emit("ev", { i, t: mono(), ...pad });
    io.to("ctl").emit("warmed", { i: -4, t: mono() });
    await pub.ping();
    line({ warmed: true });
    await waitGo(cfg.timeout || 120);
  }
  const cpu0 = cpuSeconds();
  io.to("ctl").emit("start", { i: -1, t: mono() });
  const t0 = mono();
  if (rate <= 0) {
    // As fast as the API allows: emit() is synchronous, the natural loop never waits.
    for (let i = 0; i < n; i++) io.to("room1").emit("ev", { i, t: mono(), ...pad });
  } else {
    // A fixed offered rate: emit whatever is due, then sleep until the next one.
    let i = 0;
    while (i < n) {
      const now = mono();
      while (i < n && t0 + i / rate <= now) {
        io.to("room1").emit("ev", { i, t: mono(), ...pad });
        i += 1;
      }
      if (i < n) await sleep(t0 + i / rate - mono());
    }
  }
  io.to("ctl").emit("end", { i: -2, t: mono() });
  await pub.ping(); // after every PUBLISH on the same connection
  const cpu = cpuSeconds() - cpu0;
  line({ result: { emitted: n, send_seconds: mono() - t0, cpu_s: cpu, cpu_per_10k: (cpu / n) * 10000 } });
}

function addSockets(nsp, prefix, count) {
  for (let i = 0; i < count; i++) addSocket(nsp, `${prefix}${i}`, "r", () => {});
}

async function responder(io) {
  const nsp = io.of("/");
  nsp.on("ping", (arg, callback) => callback("pong"));
  addSockets(nsp, `${cfg.name}-`, cfg.sockets);
  line({ ready: true });
}

async function requester(io) {
  const nsp = io.of("/");
  addSockets(nsp, "req-", cfg.sockets);
  const total = cfg.nodes * cfg.sockets;
  const deadline = mono() + 10;
  while ((await nsp.adapter.serverCount()) < cfg.nodes) {
    if (mono() > deadline) throw new Error("not every node is subscribed");
    await sleep(0.05);
  }
  line({ ready: true });
  const ops = {
    fetch_sockets: async () => {
      const found = await io.fetchSockets();
      if (found.length !== total) throw new Error(`fetchSockets found ${found.length}`);
    },
    server_side_call: async () => {
      const answers = await nsp.serverSideEmitWithAck("ping", 1);
      if (answers.length !== cfg.nodes - 1 || answers.some((a) => a !== "pong")) {
        throw new Error(`serverSideEmitWithAck answered ${JSON.stringify(answers)}`);
      }
    },
    server_count: async () => {
      if ((await nsp.adapter.serverCount()) !== cfg.nodes) throw new Error("serverCount changed");
    },
  };
  // ops and warmup (scaling_rooms): which operations, and how many untimed calls first
  const names = cfg.ops || ["fetch_sockets", "server_side_call"];
  const warmup = cfg.warmup === undefined ? 10 : cfg.warmup;
  const result = {};
  for (const name of names) {
    const op = ops[name];
    for (let i = 0; i < warmup; i++) await op();
    const samples = [];
    for (let i = 0; i < cfg.requests; i++) {
      const t0 = process.hrtime.bigint();
      await op();
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    result[name] = summary(samples);
  }
  line({ result });
}

async function main() {
  process.stdin.on("end", () => process.exit(0)); // the orchestrator closes stdin to stop us
  process.stdin.resume();
  const { io, pub } = await makeServer();
  const roles = { receiver, sender, responder, requester };
  if (!roles[cfg.role]) throw new Error(`unknown role ${cfg.role}`);
  await roles[cfg.role](io, pub);
}

main().catch((err) => {
  line({ error: String((err && err.stack) || err) });
  process.exit(1);
});
