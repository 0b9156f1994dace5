// (e) Cross-protocol, with Stele's C++ remoting client (tests/interop/client_probe.cc):
//   * N messages sent over remoting (tags, two keys, user properties, every 10th body over 4 KiB
//     and so zlib-compressed on the wire) are received over gRPC with the same message id (the
//     remoting UNIQ_KEY), tag, keys, properties and the uncompressed body;
//   * N messages sent over gRPC are push-consumed over remoting with UNIQ_KEY = the gRPC message
//     id, TAGS = tag, KEYS = the keys joined by spaces, the user properties and the body.
'use strict';

const assert = require('assert');
const L = require('./lib');

const N = 20;

async function remotingToGrpc(log) {
  const t1 = `GE1_${L.env.runId}`;
  await L.createTopic(t1, 4);
  const sent = await L.probe([ 'produce', L.env.namesrv, t1, String(N), 'e1' ], 60000);
  assert.strictEqual(sent.length, N);
  const consumer = await L.startConsumer('e-consumer', `GID_GE1_${L.env.runId}`, t1);
  const got = await L.receiveN(consumer, N, { timeoutMs: 60000 });
  const byId = new Map(got.map(v => [ v.messageId, v ]));
  for (const s of sent) {
    const v = byId.get(s.msgId);
    assert.ok(v, `remoting message ${s.msgId} not received over gRPC (got ${[ ...byId.keys() ].slice(0, 5)}...)`);
    assert.strictEqual(v.topic, t1);
    assert.strictEqual(v.tag, s.tags, `tag of ${s.msgId}`);
    assert.deepStrictEqual([ ...v.keys ].sort(), s.keys.split(' ').sort(), `keys of ${s.msgId}`);
    assert.ok(v.body.equals(Buffer.from(s.body, 'base64')), `body of ${s.msgId} (${v.body.length} bytes)`);
    assert.ok(!v.corrupted, `digest of ${s.msgId}`);
    for (const [ k, val ] of Object.entries(s.properties)) {
      assert.strictEqual(v.properties.get(k), val, `property ${k} of ${s.msgId}`);
    }
  }
  log(`remoting -> gRPC: ${N} messages (${sent.filter(s => Buffer.from(s.body, 'base64').length > 4096).length} compressed) equal`);
  await L.shutdown(consumer);
}

async function grpcToRemoting(log) {
  const t2 = `GE2_${L.env.runId}`;
  await L.createTopic(t2, 4);
  const producer = await L.startProducer('e-producer', [ t2 ]);
  const mine = [];
  for (let i = 0; i < N; i++) {
    const msg = {
      topic: t2, tag: i % 2 ? 'TagB' : 'TagA', keys: [ `e2-key-${i}`, `e2-k2-${i}` ],
      body: Buffer.from(`e2-${i}: ${'x'.repeat(i * 300)}`),
      properties: new Map([ [ 'index', String(i) ], [ 'text', 'caf\u00e9 e2' ] ]),
    };
    mine.push({ ...msg, messageId: (await producer.send(msg)).messageId });
  }
  await L.shutdown(producer);
  const received = await L.probe([ 'consume', L.env.namesrv, t2, `GID_GE2_${L.env.runId}`, String(N), '40000' ], 60000);
  const byUniq = new Map();
  for (const m of received) byUniq.set((m.properties && m.properties.UNIQ_KEY) || m.msgId, m);
  for (const s of mine) {
    const m = byUniq.get(s.messageId);
    assert.ok(m, `gRPC message ${s.messageId} not consumed over remoting (got ${[ ...byUniq.keys() ].slice(0, 5)}...)`);
    assert.strictEqual(m.topic, t2);
    assert.strictEqual(m.tags, s.tag, `TAGS of ${s.messageId}`);
    assert.deepStrictEqual(m.keys.split(' ').sort(), [ ...s.keys ].sort(), `KEYS of ${s.messageId}`);
    assert.ok(Buffer.from(m.body, 'base64').equals(s.body), `body of ${s.messageId}`);
    for (const [ k, val ] of s.properties) assert.strictEqual(m.properties[k], val, `property ${k} of ${s.messageId}`);
    assert.strictEqual(m.reconsumeTimes, 0);
  }
  log(`gRPC -> remoting: ${N} messages, UNIQ_KEY/TAGS/KEYS/properties/bodies equal`);
}

// Both directions run even when the first fails, so one run reports both.
L.scenario('e_cross_protocol', async ({ log }) => {
  const errors = [];
  for (const [ what, fn ] of [ [ 'remoting -> gRPC', remotingToGrpc ], [ 'gRPC -> remoting', grpcToRemoting ] ]) {
    try {
      await fn(log);
    } catch (e) {
      log(`${what} FAILED: ${e && e.message}`);
      errors.push(`${what}: ${e && e.stack || e}`);
    }
  }
  if (errors.length) throw new Error(errors.join('\n'));
});
