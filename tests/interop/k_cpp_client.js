// (k) Stele's C++ client (tests/interop/client_probe.cc) against ali-ons, both ways:
//   * messages the C++ producer sends are received by an ali-ons consumer with the same ids
//     (ali-ons's msgId is the offset msgId; the C++ client's msg_id travels as UNIQ_KEY), tags,
//     keys, user properties and body (compressed ones included), queue and offset;
//   * messages an ali-ons producer sends (tags, two keys, user properties, every 10th body over
//     4 KiB so ali-ons compresses it) are received by the C++ push consumer with the msgId of the
//     ali-ons send result, tags, keys, user properties, body, queue and offset, each exactly once.
//     This producer runs in this process (not a worker): the worker protocol carries no user
//     properties.
'use strict';

const assert = require('assert');
const { execFile } = require('child_process');
const { Producer, Message } = require('ali-ons');
const L = require('./lib');

const N = 30;
const QUEUES = 4;

function probe(args, timeoutMs) {
  const bin = process.env.STELE_CLIENT_PROBE;
  if (!bin) throw new Error('STELE_CLIENT_PROBE is not set: run through tests/interop/run.sh');
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`probe ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      resolve(stdout.split('\n').filter(l => l.trim()).map(l => JSON.parse(l)));
    });
  });
}

L.scenario('k_cpp_client', async ({ log }) => {
  const broker = 'broker-a';

  // C++ producer -> ali-ons consumer.
  const t1 = `IK1_${L.env.runId}`;
  await L.setupTopic(t1, [ broker ], QUEUES);
  const consumer = await L.startConsumer('k-consumer', { group: `GID_IK1_${L.env.runId}`, subscriptions: [ { topic: t1, expression: '*' } ] });
  await L.waitUntil(`the ali-ons consumer to hold all ${QUEUES} queues`, 15000, () =>
    consumer.queues && consumer.queues.filter(q => q.topic === t1).length === QUEUES);
  const sent = await probe([ 'produce', L.env.namesrv, t1, String(N), 'k1' ], 60000);
  assert.strictEqual(sent.length, N, 'the probe should report every send');
  for (const s of sent) {
    assert.strictEqual(s.status, 'SEND_OK');
    assert.match(s.msgId, /^[0-9A-F]{32}$/, 'the C++ msg_id is a 32-digit unique id');
    assert.strictEqual(L.R.decodeMessageId(s.offsetMsgId).address, L.brokerAddr(broker));
  }
  await L.waitUntil(`ali-ons to receive ${N} messages`, 30000, note => {
    note(`${consumer.acked().length} received`);
    return consumer.acked().length >= N;
  });
  await L.sleep(1000);
  const got = new Map(consumer.acked().map(m => [ m.msgId, m ]));
  assert.strictEqual(consumer.acked().length, N, 'each message once');
  for (const s of sent) {
    const m = got.get(s.offsetMsgId);
    assert.ok(m, `ali-ons did not receive ${s.offsetMsgId} (C++ msg_id ${s.msgId})`);
    assert.strictEqual(m.properties.UNIQ_KEY, s.msgId, 'UNIQ_KEY carries the C++ msg_id');
    assert.strictEqual(m.tags, s.tags);
    assert.strictEqual(m.keys, s.keys);
    assert.strictEqual(m.body, s.body, `body of ${s.msgId}`);
    assert.strictEqual(m.queueId, s.queueId);
    assert.strictEqual(m.queueOffset, s.queueOffset);
    for (const [ k, v ] of Object.entries(s.properties)) {
      assert.strictEqual(m.properties[k], v, `user property ${k} of ${s.msgId}`);
    }
  }
  log(`C++ producer -> ali-ons: ${N} messages, ids/tags/keys/properties/bodies equal`);
  await consumer.close();

  // ali-ons producer -> C++ push consumer.
  const t2 = `IK2_${L.env.runId}`;
  await L.setupTopic(t2, [ broker ], QUEUES);
  const quiet = { info() {}, warn() {}, debug() {}, error: (...a) => log(`ali-ons producer: ${a.join(' ')}`) };
  const producer = new Producer({ nameSrv: L.env.namesrv, httpclient: {}, logger: quiet,
    producerGroup: `PID_IK2_${L.env.runId}`, pollNameServerInteval: 1000 });
  const producerErrors = [];
  producer.on('error', err => producerErrors.push(String(err && err.stack || err)));
  await producer.ready();
  const specs = L.makeMessages(t2, N, { prefix: 'k2', bigEvery: 10 });
  const props = specs.map((s, i) => ({ aliIndex: String(i), aliText: `caf\u00e9 k2 ${i}` }));
  const results = [];
  try {
    for (let i = 0; i < N; i++) {
      const s = specs[i];
      const msg = new Message(s.topic, s.tags, s.body);
      msg.keys = s.keys;
      Object.assign(msg.properties, props[i]);
      const r = await producer.send(msg);
      results.push({ msgId: r.msgId, queueId: Number(r.messageQueue.queueId),
        brokerName: r.messageQueue.brokerName, queueOffset: r.queueOffset, sendStatus: r.sendStatus });
    }
  } finally {
    await producer.close();
  }
  assert.deepStrictEqual(producerErrors, [], 'the ali-ons producer reported errors');
  L.assertSendResults(t2, results);
  const received = await probe([ 'consume', L.env.namesrv, t2, `GID_IK2_${L.env.runId}`, String(N), '40000' ], 60000);
  const byId = new Map();
  for (const m of received) {
    assert.ok(!byId.has(m.msgId), `C++ consumer got ${m.msgId} twice`);
    byId.set(m.msgId, m);
  }
  specs.forEach((s, i) => {
    const r = results[i];
    const m = byId.get(r.msgId);
    assert.ok(m, `C++ consumer did not receive ${r.msgId}`);
    assert.strictEqual(m.offsetMsgId, r.msgId);
    assert.strictEqual(m.topic, t2);
    assert.strictEqual(m.tags, s.tags);
    assert.strictEqual(m.keys, s.keys.join(' '));
    assert.strictEqual(m.body, Buffer.from(s.body).toString('base64'), `body of ${r.msgId}`);
    assert.strictEqual(m.queueId, r.queueId);
    assert.strictEqual(m.queueOffset, r.queueOffset);
    assert.strictEqual(m.reconsumeTimes, 0);
    for (const [ k, v ] of Object.entries(props[i])) {
      assert.strictEqual(m.properties[k], v, `user property ${k} of ${r.msgId}`);
    }
  });
  assert.strictEqual(byId.size, N);
  log(`ali-ons producer -> C++ consumer: ${N} messages, ids/tags/keys/properties/bodies equal`);
});
