// Shared helpers for the interop scenarios: the servers' addresses (from run.sh), topic creation
// and route waits over raw remoting, worker processes (worker.js) running ali-ons, bounded waits,
// and the scenario wrapper that prints what went wrong and exits non-zero.
'use strict';

const assert = require('assert');
const path = require('path');
const { fork } = require('child_process');
const JSON2 = require('JSON2'); // the parser ali-ons uses for route bodies
const R = require('./remoting');

function requireEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the scenarios through tests/interop/run.sh`);
  return v;
}

const env = {
  get namesrv() { return requireEnv('STELE_NAMESRV'); },
  // {"broker-a": {"addr": "127.0.0.1:p", "flush": "SYNC_FLUSH"}, ...}
  get brokers() { return JSON.parse(requireEnv('STELE_BROKERS')); },
  get cluster() { return requireEnv('STELE_CLUSTER'); },
  get logDir() { return requireEnv('STELE_LOG_DIR'); },
  get runId() { return process.env.STELE_RUN_ID || String(process.pid); },
};

function brokerAddr(name) {
  const b = env.brokers[name];
  if (!b) throw new Error(`no broker ${name} in STELE_BROKERS`);
  return b.addr;
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

// Polls `fn` (sync or async) until it returns a truthy value, at most `timeoutMs`. On timeout
// throws with `what` and the detail `fn` last set through the `note` callback it receives.
async function waitUntil(what, timeoutMs, fn, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let detail = '';
  const note = s => { detail = s; };
  for (;;) {
    checkWorkers();
    const v = await fn(note);
    if (v) return v;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `; last state: ${detail}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

function describeResponse(resp) {
  return `code ${resp.code}, remark ${JSON.stringify(resp.remark)}, extFields ${JSON.stringify(resp.extFields)}, ` +
    `body ${resp.body.length} bytes${resp.body.length && resp.body.length < 2000 ? `: ${resp.body.toString('utf8')}` : ''}`;
}

// UPDATE_AND_CREATE_TOPIC (17) on one broker, with Java's CreateTopicRequestHeader fields as strings.
async function createTopic(broker, topic, queueNums, perm = 6) {
  const addr = brokerAddr(broker);
  const ext = {
    topic,
    defaultTopic: 'TBW102',
    readQueueNums: String(queueNums),
    writeQueueNums: String(queueNums),
    perm: String(perm),
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: '0',
    order: 'false',
  };
  const resp = await R.requestOnce(addr, R.Code.UPDATE_AND_CREATE_TOPIC, ext);
  if (resp.code !== R.Code.SUCCESS) {
    throw new Error(`UPDATE_AND_CREATE_TOPIC ${JSON.stringify(ext)} to ${broker} (${addr}) failed: ${describeResponse(resp)}`);
  }
}

// GET_ROUTEINFO_BY_TOPIC (105) on the name server: { code, resp, route } (route parsed like ali-ons).
async function getRoute(topic) {
  const resp = await R.requestOnce(env.namesrv, R.Code.GET_ROUTEINFO_BY_TOPIC, { topic });
  let route = null;
  if (resp.code === R.Code.SUCCESS && resp.body.length) {
    route = JSON2.parse(resp.body.toString('utf8'));
  }
  return { code: resp.code, resp, route };
}

// Waits until the name server's route for `topic` lists exactly `brokers` (names), each with
// `queueNums` read/write queues, perm 6, and its master address as run.sh started it. Returns it.
async function waitRoute(topic, brokers, queueNums, timeoutMs = 10000) {
  return waitUntil(`the name server's route for ${topic} to list ${brokers.join(', ')} with ${queueNums} queues`,
    timeoutMs, async note => {
      const { code, resp, route } = await getRoute(topic);
      if (!route) { note(describeResponse(resp)); return null; }
      note(JSON.stringify(route));
      if (!Array.isArray(route.queueDatas) || !Array.isArray(route.brokerDatas)) return null;
      const names = route.queueDatas.map(q => q.brokerName).sort();
      if (JSON.stringify(names) !== JSON.stringify([ ...brokers ].sort())) return null;
      for (const name of brokers) {
        const q = route.queueDatas.find(x => x.brokerName === name);
        const b = route.brokerDatas.find(x => x.brokerName === name);
        if (!b || !b.brokerAddrs || b.brokerAddrs['0'] !== brokerAddr(name)) return null;
        if (q.readQueueNums !== queueNums || q.writeQueueNums !== queueNums || q.perm !== 6) return null;
      }
      return code === R.Code.SUCCESS ? route : null;
    }, 200);
}

// Creates `topic` on each broker and waits for the name server to route it.
async function setupTopic(topic, brokers, queueNums) {
  for (const b of brokers) await createTopic(b, topic, queueNums);
  return waitRoute(topic, brokers, queueNums);
}

async function getMaxOffset(broker, topic, queueId) {
  const resp = await R.requestOnce(brokerAddr(broker), R.Code.GET_MAX_OFFSET, { topic, queueId: String(queueId) });
  if (resp.code !== R.Code.SUCCESS || resp.extFields.offset === undefined) {
    throw new Error(`GET_MAX_OFFSET ${topic}/${queueId} on ${broker}: ${describeResponse(resp)}`);
  }
  return Number(resp.extFields.offset);
}

// Reads every message of one queue that matches `subscription` with non-suspended raw pulls
// from offset 0 up to the queue's max offset. Returns { messages, pulls: [codes] }.
async function pullAll(broker, topic, queueId, group, subscription = '*', timeoutMs = 10000) {
  const addr = brokerAddr(broker);
  const max = await getMaxOffset(broker, topic, queueId);
  const client = await R.RemotingClient.connect(addr);
  const messages = [];
  const codes = [];
  const deadline = Date.now() + timeoutMs;
  try {
    let offset = 0;
    while (offset < max) {
      if (Date.now() > deadline) throw new Error(`pullAll ${topic}/${queueId}: stuck at offset ${offset} of ${max}`);
      const ext = {
        consumerGroup: group, topic, queueId: String(queueId), queueOffset: String(offset),
        maxMsgNums: '32', sysFlag: '4' /* SUBSCRIPTION only: no suspend, no commit */,
        commitOffset: '0', suspendTimeoutMillis: '0', subscription, subVersion: String(Date.now()),
      };
      const resp = await client.request(R.Code.PULL_MESSAGE, ext);
      codes.push(resp.code);
      const next = Number(resp.extFields.nextBeginOffset);
      if (![ R.Code.SUCCESS, R.Code.PULL_NOT_FOUND, R.Code.PULL_RETRY_IMMEDIATELY ].includes(resp.code) ||
          !Number.isInteger(next)) {
        throw new Error(`raw PULL_MESSAGE ${JSON.stringify(ext)} on ${broker}: ${describeResponse(resp)}`);
      }
      if (resp.code === R.Code.SUCCESS) {
        if (!resp.body.length) throw new Error(`PULL_MESSAGE FOUND with an empty body: ${describeResponse(resp)}`);
        messages.push(...R.decodeMessages(resp.body));
      }
      if (resp.code === R.Code.PULL_NOT_FOUND) break;
      if (next <= offset) throw new Error(`PULL_MESSAGE did not advance: offset ${offset}, ${describeResponse(resp)}`);
      offset = next;
    }
  } finally {
    client.close();
  }
  return { messages, codes, max };
}

// ---- workers ------------------------------------------------------------------------------------

const workers = new Set();
const allWorkers = [];

// Throws if a worker process died without being asked to close (its ali-ons client crashed).
function checkWorkers() {
  for (const w of allWorkers) {
    if (w.exitCode !== undefined && !w.closing) {
      throw new Error(`worker ${w.name} exited unexpectedly with code ${w.exitCode}; it reported: ${w.errors.join(' | ') || 'nothing'}`);
    }
  }
}

class Worker {
  constructor(name, cfg) {
    this.name = name;
    this.msgs = [];        // every { m, outcome } the consumer handler saw, in order
    this.queues = null;    // the latest assigned queues
    this.errors = [];      // 'error' events from ali-ons, as text
    this.closed = null;    // { error } once closed
    this.exitCode = undefined;
    this.sendWaiters = new Map();
    this.nextId = 1;
    const full = Object.assign({ name, namesrv: env.namesrv }, cfg);
    this.proc = fork(path.join(__dirname, 'worker.js'), [ JSON.stringify(full) ], {
      stdio: [ 'ignore', 'inherit', 'inherit', 'ipc' ],
      env: process.env,
    });
    this.readyInfo = null;
    this.proc.on('message', m => this._onMessage(m));
    this.proc.on('exit', code => {
      this.exitCode = code;
      workers.delete(this);
      for (const [, w] of this.sendWaiters) w.reject(new Error(`worker ${name} exited (code ${code}) during a send`));
      this.sendWaiters.clear();
    });
    this.closing = false;
    workers.add(this);
    allWorkers.push(this);
  }

  _onMessage(m) {
    switch (m.type) {
      case 'ready': this.readyInfo = m; break;
      case 'queues': this.queues = m.queues; break;
      case 'msg': this.msgs.push(m); break;
      case 'error': this.errors.push(`${m.kind}: ${m.message}`); break;
      case 'closed': this.closed = m; break;
      case 'sent': {
        const w = this.sendWaiters.get(m.id);
        if (w) { this.sendWaiters.delete(m.id); w.resolve(m); }
        break;
      }
      default: break;
    }
  }

  async ready(timeoutMs = 20000) {
    await waitUntil(`worker ${this.name} to start`, timeoutMs, note => {
      note(this.errors.join(' | '));
      return this.readyInfo;
    });
    return this;
  }

  // Producer: sends the messages in order; resolves with one result per message.
  async send(messages, timeoutMs = 30000) {
    const id = this.nextId++;
    const wire = messages.map(s => Object.assign({}, s, { body: Buffer.from(s.body).toString('base64') }));
    const reply = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.sendWaiters.delete(id);
        reject(new Error(`worker ${this.name}: sending ${messages.length} messages took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.sendWaiters.set(id, {
        resolve: v => { clearTimeout(timer); resolve(v); },
        reject: e => { clearTimeout(timer); reject(e); },
      });
      this.proc.send({ cmd: 'send', id, messages: wire });
    });
    if (reply.error) {
      throw new Error(`ali-ons producer.send failed after ${reply.results.length} of ${messages.length} messages: ${reply.error}`);
    }
    return reply.results;
  }

  acked() { return this.msgs.filter(x => x.outcome === 'ack').map(x => x.m); }

  async close(timeoutMs = 20000) {
    if (this.exitCode !== undefined) return;
    this.closing = true;
    this.proc.send({ cmd: 'close' });
    await waitUntil(`worker ${this.name} to close`, timeoutMs, () => this.exitCode !== undefined);
    if (!this.closed) throw new Error(`worker ${this.name} exited (${this.exitCode}) without closing cleanly`);
    if (this.closed.error) throw new Error(`worker ${this.name}: close() failed: ${this.closed.error}`);
  }

  kill() {
    this.closing = true;
    if (this.exitCode === undefined) this.proc.kill('SIGKILL');
  }
}

function startProducer(name, group) {
  return new Worker(name, { role: 'producer', group }).ready();
}

// subscriptions: [{ topic, expression }]
function startConsumer(name, cfg) {
  return new Worker(name, Object.assign({ role: 'consumer' }, cfg)).ready();
}

// ---- checks -------------------------------------------------------------------------------------

// Message specs for a producer: { topic, tags, keys: [..], body: Buffer }.
function makeMessages(topic, n, { prefix = 'm', tags = i => (i % 2 ? 'TagB' : 'TagA'), bigEvery = 0 } = {}) {
  const out = [];
  for (let i = 0; i < n; i++) {
    let body = Buffer.from(`${prefix}-${env.runId}-${i}: body \u00e9\u00e8 ${'x'.repeat(i % 7)}`, 'utf8');
    if (bigEvery && i % bigEvery === bigEvery - 1) {
      // over 4 KiB: ali-ons deflates it (sysFlag bit 0) and the consumer must inflate it
      body = Buffer.concat([ body, Buffer.alloc(6000 + i, i & 0xff) ]);
    }
    out.push({ topic, tags: tags(i), keys: [ `${prefix}-key-${i}`, `${prefix}-k2-${i}` ], body });
  }
  return out;
}

// Checks that `received` (consumer message descriptions) are exactly the sent messages, one each:
// same msgId as the send result, body, tags, keys, topic, queue id and offset.
function assertExactlySent(what, sent, results, received, { topic } = {}) {
  const byId = new Map();
  const dups = [];
  for (const m of received) {
    if (byId.has(m.msgId)) dups.push(m.msgId);
    byId.set(m.msgId, m);
  }
  assert.deepStrictEqual(dups, [], `${what}: messages delivered more than once: ${dups.join(', ')}`);
  const sentIds = new Set(results.map(r => r.msgId));
  const extra = [ ...byId.keys() ].filter(id => !sentIds.has(id));
  assert.deepStrictEqual(extra, [], `${what}: received messages that were not sent (or whose msgId differs from the send result): ${extra.join(', ')}`);
  const missing = results.filter(r => !byId.has(r.msgId)).map(r => r.msgId);
  assert.deepStrictEqual(missing, [], `${what}: sent messages not received: ${missing.join(', ')}`);
  sent.forEach((s, i) => {
    const r = results[i];
    const m = byId.get(r.msgId);
    const ctx = `${what}: message #${i} (msgId ${r.msgId})`;
    assert.strictEqual(Buffer.from(m.body, 'base64').toString('hex'), Buffer.from(s.body).toString('hex'), `${ctx}: body differs`);
    assert.strictEqual(m.tags, s.noTags ? null : (s.tags === undefined ? null : s.tags), `${ctx}: tags differ`);
    assert.strictEqual(m.keys, s.keys ? s.keys.join(' ') : null, `${ctx}: keys differ`);
    assert.strictEqual(m.topic, topic || s.topic, `${ctx}: topic differs`);
    assert.strictEqual(m.queueId, r.queueId, `${ctx}: queueId ${m.queueId} != send result's ${r.queueId}`);
    assert.strictEqual(m.queueOffset, r.queueOffset, `${ctx}: queueOffset ${m.queueOffset} != send result's ${r.queueOffset}`);
    assert.strictEqual(m.reconsumeTimes, 0, `${ctx}: reconsumeTimes`);
  });
}

// Send results: every status SEND_OK, every msgId an offset msgId naming the broker it went to.
function assertSendResults(what, results) {
  for (const r of results) {
    assert.strictEqual(r.sendStatus, 'SEND_OK', `${what}: sendStatus ${r.sendStatus} for ${r.msgId}`);
    const id = R.decodeMessageId(r.msgId);
    assert.strictEqual(id.address, brokerAddr(r.brokerName),
      `${what}: msgId ${r.msgId} names store host ${id.address}, but it was sent to ${r.brokerName} at ${brokerAddr(r.brokerName)}`);
  }
}

// ---- scenario wrapper -----------------------------------------------------------------------------

// 'error' events ali-ons may legitimately emit against a correct (Java-like) server: the test's own
// handler failures; TOPIC_NOT_EXIST (17) for a group's retry topic looked up before the broker
// registered it (ali-ons subscribes to %RETRY%<group> before its first heartbeat reaches the
// broker); QUERY_NOT_FOUND (22) for a group's first offset query (ali-ons logs it, then starts
// from CONSUME_FROM_FIRST_OFFSET); a SocketCloseError of an offset read (seen once on a machine
// at load 12, at consumer start; the broker logged no closed connection and the consumer went on
// and passed every check, so it is taken as ali-ons's own; cause not found). Anything else fails
// the scenario even if the checks passed.
const EXPECTED_ERRORS = [
  /interop test: handler fails/,
  /\[code 17\].*%RETRY%/,
  /\[code 22\].*RemoteBrokerOffsetStore\.readOffset failed/,
  /SocketCloseError.*RemoteBrokerOffsetStore\.readOffset failed/,
];

function unexpectedErrors() {
  const out = [];
  for (const w of allWorkers) {
    for (const e of w.errors) {
      if (!EXPECTED_ERRORS.some(re => re.test(e))) out.push(`${w.name}: ${e}`);
    }
  }
  return out;
}

function scenario(name, fn) {
  const started = Date.now();
  const log = (...a) => console.log(`[${name} +${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
  (async () => {
    await fn({ log });
    const unexpected = unexpectedErrors();
    if (unexpected.length) {
      throw new Error(`ali-ons reported errors the scenario did not expect:\n    ${unexpected.slice(0, 20).join('\n    ')}`);
    }
  })().then(async () => {
    for (const w of workers) w.kill();
    log('OK');
    process.exit(0);
  }, err => {
    console.log(`[${name}] FAILED: ${err && err.stack || err}`);
    for (const w of allWorkers) {
      if (w.errors.length) console.log(`[${name}] worker ${w.name} reported: ${w.errors.slice(0, 20).join('\n    ')}`);
    }
    for (const w of workers) w.kill();
    process.exit(1);
  });
}

module.exports = {
  R,
  env,
  brokerAddr,
  sleep,
  waitUntil,
  describeResponse,
  createTopic,
  getRoute,
  waitRoute,
  setupTopic,
  getMaxOffset,
  pullAll,
  Worker,
  startProducer,
  startConsumer,
  makeMessages,
  assertExactlySent,
  assertSendResults,
  scenario,
};
