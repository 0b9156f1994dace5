// (b) A received but un-acked message becomes visible again after its invisible duration (3 s, or
// 10 s when the server enforces Java's minimum), not before, with a higher deliveryAttempt and a
// new receipt handle; acking the redelivered copy ends it.
'use strict';

const assert = require('assert');
const L = require('./lib');

L.scenario('b_redelivery', async ({ log }) => {
  const topic = `GB_${L.env.runId}`;
  await L.createTopic(topic, 2);
  const producer = await L.startProducer('b-producer', [ topic ]);
  const receipt = await producer.send({ topic, body: Buffer.from('redeliver me'), tag: 'T', keys: [ 'b-key' ] });
  const consumer = await L.startConsumer('b-consumer', `GID_GB_${L.env.runId}`, topic);

  let first;
  let invisibleMs = 3000;
  await L.waitUntil('the first delivery', 30000, async () => {
    const r = await L.receiveOnce(consumer, 1, invisibleMs, log);
    invisibleMs = r.invisibleMs;
    first = r.views.find(v => v.messageId === receipt.messageId);
    return first;
  }, 0);
  const t0 = Date.now();
  log(`first delivery: attempt ${first.deliveryAttempt}, invisible ${invisibleMs} ms, not acked`);
  assert.strictEqual(first.deliveryAttempt, 1);

  let second;
  await L.waitUntil('the redelivery', invisibleMs + 30000, async note => {
    const { views } = await L.receiveOnce(consumer, 1, invisibleMs);
    second = views.find(v => v.messageId === receipt.messageId);
    note(`${views.length} other messages`);
    return second;
  }, 0);
  const after = Date.now() - t0;
  log(`redelivered after ${after} ms: attempt ${second.deliveryAttempt}`);
  assert.ok(after >= invisibleMs - 500, `redelivered after ${after} ms, before its invisible duration ${invisibleMs} ms`);
  assert.ok(second.deliveryAttempt > first.deliveryAttempt,
    `deliveryAttempt ${second.deliveryAttempt} should exceed ${first.deliveryAttempt}`);
  assert.ok(second.body.equals(Buffer.from('redeliver me')));
  assert.notStrictEqual(second.receiptHandle, first.receiptHandle, 'a redelivery gets a new receipt handle');
  await consumer.ack(second);

  // Acked: nothing within another invisible duration plus slack.
  const quiet = Date.now() + invisibleMs + 2000;
  while (Date.now() < quiet) {
    const { views } = await L.receiveOnce(consumer, 1, invisibleMs);
    assert.strictEqual(views.length, 0, `acked message came back: ${views.map(v => v.messageId)}`);
  }
  log('acked redelivery stays acked');
  await L.shutdown(consumer);
  await L.shutdown(producer);
});
