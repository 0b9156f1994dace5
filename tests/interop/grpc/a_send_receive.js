// (a) A Producer sends N messages (tags, keys, user properties, text and binary bodies); a
// SimpleConsumer receives every one exactly once and acks it; message id, topic, tag, keys,
// properties and body match what was sent, deliveryAttempt is 1, and a second consumer group with
// the tag expression "TagA" receives only the TagA half. After the acks nothing comes back.
'use strict';

const assert = require('assert');
const crypto = require('crypto');
const L = require('./lib');

const N = 40;

L.scenario('a_send_receive', async ({ log }) => {
  const topic = `GA_${L.env.runId}`;
  await L.createTopic(topic, 4);
  const producer = await L.startProducer('a-producer', [ topic ]);
  const sent = [];
  for (let i = 0; i < N; i++) {
    const body = i % 5 === 4 ? crypto.randomBytes(1024 + i) : Buffer.from(`a-${i}: body \u00e9\u00e8`);
    const msg = {
      topic, body, tag: i % 2 ? 'TagB' : 'TagA', keys: [ `a-key-${i}`, `a-k2-${i}` ],
      properties: new Map([ [ 'index', String(i) ], [ 'text', 'caf\u00e9 a' ] ]),
    };
    const receipt = await producer.send(msg);
    assert.match(receipt.messageId, /^[0-9A-F]{34}$/i, `send receipt message id ${receipt.messageId}`);
    sent.push({ ...msg, messageId: receipt.messageId });
  }
  log(`sent ${N} messages`);

  const consumer = await L.startConsumer('a-consumer', `GID_GA_${L.env.runId}`, topic);
  const got = await L.receiveN(consumer, N, { timeoutMs: 60000 });
  const byId = new Map(got.map(v => [ v.messageId, v ]));
  for (const s of sent) {
    const v = byId.get(s.messageId);
    assert.ok(v, `message ${s.messageId} was not received`);
    assert.strictEqual(v.topic, topic);
    assert.strictEqual(v.tag, s.tag, `tag of ${s.messageId}`);
    assert.deepStrictEqual([ ...v.keys ].sort(), [ ...s.keys ].sort(), `keys of ${s.messageId}`);
    assert.ok(v.body.equals(s.body), `body of ${s.messageId}`);
    assert.ok(!v.corrupted, `body digest of ${s.messageId}`);
    for (const [ k, val ] of s.properties) assert.strictEqual(v.properties.get(k), val, `property ${k} of ${s.messageId}`);
    assert.strictEqual(v.deliveryAttempt, 1, `deliveryAttempt of ${s.messageId}`);
    assert.ok(v.receiptHandle, 'receipt handle');
  }
  assert.strictEqual(got.dups.length, 0, `duplicates: ${got.dups.map(v => v.messageId)}`);
  log(`received and acked ${N}: ids, tags, keys, properties and bodies equal`);

  const { views } = await L.receiveOnce(consumer, 16, 20000);
  assert.strictEqual(views.length, 0, `acked messages came back: ${views.map(v => v.messageId)}`);

  const tagged = await L.startConsumer('a-consumer-tag', `GID_GA_TAG_${L.env.runId}`, topic, 'TagA');
  const want = sent.filter(s => s.tag === 'TagA');
  const gotA = await L.receiveN(tagged, want.length, { timeoutMs: 60000 });
  for (const v of gotA) assert.strictEqual(v.tag, 'TagA', `tag filter let ${v.messageId} (${v.tag}) through`);
  const extra = await L.receiveOnce(tagged, 16, 20000);
  assert.strictEqual(extra.views.length, 0, `tag filter: unexpected ${extra.views.map(v => `${v.messageId}/${v.tag}`)}`);
  log(`group with "TagA" received exactly the ${want.length} TagA messages`);

  await L.shutdown(tagged);
  await L.shutdown(consumer);
  await L.shutdown(producer);
});
