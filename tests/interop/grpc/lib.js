// Shared helpers for the gRPC interop scenarios: the servers' addresses (from run.sh), topic
// creation over raw remoting (../remoting.js, no npm dependency), rocketmq-client-nodejs Producer
// and SimpleConsumer with per-client log files and bounded startups, receive loops, the C++
// remoting probe, and the scenario wrapper that prints what went wrong and exits non-zero.
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { execFile } = require('child_process');
const { Producer, SimpleConsumer } = require('rocketmq-client-nodejs');
const R = require('../remoting');

function requireEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the scenarios through tests/interop/grpc/run.sh`);
  return v;
}

const env = {
  get namesrv() { return requireEnv('STELE_NAMESRV'); },
  get broker() { return requireEnv('STELE_BROKER'); }, // remoting address of the broker
  get grpc() { return requireEnv('STELE_GRPC'); }, // its gRPC endpoint, host:port
  get logDir() { return requireEnv('STELE_LOG_DIR'); },
  get runId() { return process.env.STELE_RUN_ID || String(process.pid); },
  get maxMessageSize() { return Number(requireEnv('STELE_MAX_MESSAGE_SIZE')); },
  get probe() { return requireEnv('STELE_CLIENT_PROBE'); },
};

// Code values from definition.proto that the scenarios check.
const Code = Object.freeze({
  OK: 20000,
  ILLEGAL_INVISIBLE_TIME: 40011,
  TOPIC_NOT_FOUND: 40402,
  PAYLOAD_TOO_LARGE: 41300,
  MESSAGE_BODY_TOO_LARGE: 41301,
});

const sleep = ms => new Promise(r => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value, at most `timeoutMs`; `note` records the last state
// for the timeout message.
async function waitUntil(what, timeoutMs, fn, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let detail = '';
  const note = s => { detail = s; };
  for (;;) {
    const v = await fn(note);
    if (v) return v;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `; last state: ${detail}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// Rejects with a clear message when `p` does not settle in `ms` (the client's startup waits for
// the Settings reply without any timeout of its own).
function withTimeout(what, ms, p) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([ p, t ]).finally(() => clearTimeout(timer));
}

// UPDATE_AND_CREATE_TOPIC (17) on the broker, then waits until the name server routes it.
async function createTopic(topic, queueNums = 4) {
  const ext = {
    topic, defaultTopic: 'TBW102', readQueueNums: String(queueNums), writeQueueNums: String(queueNums),
    perm: '6', topicFilterType: 'SINGLE_TAG', topicSysFlag: '0', order: 'false',
  };
  const resp = await R.requestOnce(env.broker, R.Code.UPDATE_AND_CREATE_TOPIC, ext);
  assert.strictEqual(resp.code, R.Code.SUCCESS, `UPDATE_AND_CREATE_TOPIC ${topic}: code ${resp.code} ${resp.remark}`);
  await waitUntil(`the name server to route ${topic}`, 10000, async note => {
    const r = await R.requestOnce(env.namesrv, R.Code.GET_ROUTEINFO_BY_TOPIC, { topic });
    note(`code ${r.code} ${r.remark}`);
    return r.code === R.Code.SUCCESS;
  }, 200);
}

// A logger for the client that writes to LOG_DIR/<name>.log and keeps the errors.
function fileLogger(name) {
  const file = path.join(env.logDir, `grpc-${name}.log`);
  const errors = [];
  const write = (level, args) => {
    const line = `${new Date().toISOString()} ${level} ${util.format(...args)}\n`;
    fs.appendFileSync(file, line);
    if (level === 'ERROR') errors.push(line.trim());
  };
  return {
    errors,
    info: (...a) => write('INFO', a),
    warn: (...a) => write('WARN', a),
    error: (...a) => write('ERROR', a),
    debug: (...a) => write('DEBUG', a),
  };
}

const clients = new Set();

// `extra`: more Producer options, e.g. { checker } for transactions.
async function startProducer(name, topics, extra = {}) {
  const logger = fileLogger(name);
  const p = new Producer({ endpoints: env.grpc, namespace: '', topics, logger, requestTimeout: 5000, ...extra });
  p.errors = logger.errors;
  clients.add(p);
  await withTimeout(`producer ${name} startup (QueryRoute + Telemetry Settings)`, 20000, p.startup());
  return p;
}

// awaitDuration is the long-polling timeout the client asks for (Java's lower bound is 5 s).
async function startConsumer(name, group, topic, expression = '*', awaitDuration = 5000) {
  const logger = fileLogger(name);
  const c = new SimpleConsumer({
    endpoints: env.grpc, namespace: '', consumerGroup: group, subscriptions: new Map([ [ topic, expression ] ]),
    awaitDuration, logger, requestTimeout: 5000,
  });
  c.errors = logger.errors;
  clients.add(c);
  await withTimeout(`consumer ${name} startup (QueryRoute + Telemetry Settings)`, 20000, c.startup());
  return c;
}

async function shutdown(client) {
  clients.delete(client);
  await withTimeout('client shutdown (NotifyClientTermination)', 15000, client.shutdown());
}

// One receive; a server that refuses a short invisible duration (Java: < 10 s gives
// ILLEGAL_INVISIBLE_TIME) is retried with 10 s. Returns { views, invisibleMs }.
async function receiveOnce(consumer, batch, invisibleMs, log) {
  try {
    return { views: await consumer.receive(batch, invisibleMs), invisibleMs };
  } catch (e) {
    if (e && e.code === Code.ILLEGAL_INVISIBLE_TIME && invisibleMs < 10000) {
      if (log) log(`the server refused invisibleDuration ${invisibleMs} ms (${e.message}); using 10000 ms`);
      return { views: await consumer.receive(batch, 10000), invisibleMs: 10000 };
    }
    throw e;
  }
}

// Receives until `n` distinct message ids arrived or `timeoutMs` passed. Acks each when `ack`.
// Returns the views in arrival order (duplicates recorded in `.dups`).
async function receiveN(consumer, n, { timeoutMs = 30000, invisibleMs = 20000, ack = true, batch = 16 } = {}) {
  const got = new Map();
  const dups = [];
  await waitUntil(`${n} messages over ReceiveMessage`, timeoutMs, async note => {
    const { views } = await receiveOnce(consumer, batch, invisibleMs);
    for (const v of views) {
      if (got.has(v.messageId)) dups.push(v); else got.set(v.messageId, v);
      if (ack) await consumer.ack(v);
    }
    note(`${got.size} of ${n} received, ${dups.length} duplicates`);
    return got.size >= n;
  }, 0);
  const out = [ ...got.values() ];
  out.dups = dups;
  return out;
}

// Runs the C++ remoting client (tests/interop/client_probe.cc); returns its JSON lines.
function probe(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(env.probe, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`probe ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      resolve(stdout.split('\n').filter(l => l.trim()).map(l => JSON.parse(l)));
    });
  });
}

function scenario(name, fn) {
  const started = Date.now();
  const log = (...a) => console.log(`[${name} +${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
  fn({ log }).then(() => {
    log('OK');
    process.exit(0);
  }, err => {
    console.log(`[${name}] FAILED: ${err && err.stack || err}`);
    for (const c of clients) {
      if (c.errors && c.errors.length) console.log(`[${name}] client errors:\n    ${c.errors.slice(-10).join('\n    ')}`);
    }
    process.exit(1);
  });
}

module.exports = {
  R, env, Code, sleep, waitUntil, withTimeout, createTopic, fileLogger, startProducer, startConsumer,
  shutdown, receiveOnce, receiveN, probe, scenario,
};
