// (c) ChangeInvisibleDuration extends a received message's invisibility: with a 3 s receive
// (10 s if the server enforces Java's minimum) changed at once to that plus 6 s, the message is
// not redelivered before the new time and is redelivered after it. The changed handle is the
// one ChangeInvisibleDuration returned, and acking the redelivered copy ends it.
'use strict';

const assert = require('assert');
const L = require('./lib');

const EXTRA_MS = 6000;

L.scenario('c_change_invisible', async ({ log }) => {
  const topic = `GC_${L.env.runId}`;
  await L.createTopic(topic, 2);
  const producer = await L.startProducer('c-producer', [ topic ]);
  const receipt = await producer.send({ topic, body: Buffer.from('extend me'), tag: 'T' });
  const consumer = await L.startConsumer('c-consumer', `GID_GC_${L.env.runId}`, topic);

  let view;
  let invisibleMs = 3000;
  await L.waitUntil('the first delivery', 30000, async () => {
    const r = await L.receiveOnce(consumer, 1, invisibleMs, log);
    invisibleMs = r.invisibleMs;
    view = r.views.find(v => v.messageId === receipt.messageId);
    return view;
  }, 0);
  const oldHandle = view.receiptHandle;
  const newMs = invisibleMs + EXTRA_MS;
  const t0 = Date.now();
  await consumer.changeInvisibleDuration(view, newMs);
  assert.ok(view.receiptHandle, 'ChangeInvisibleDuration returned a receipt handle');
  log(`received (invisible ${invisibleMs} ms), changed to ${newMs} ms; handle ${oldHandle === view.receiptHandle ? 'unchanged' : 'renewed'}`);

  let again;
  await L.waitUntil('the redelivery after the extended time', newMs + 30000, async () => {
    const { views } = await L.receiveOnce(consumer, 1, 20000);
    again = views.find(v => v.messageId === receipt.messageId);
    if (again && Date.now() - t0 < newMs - 500) {
      throw new Error(`redelivered after ${Date.now() - t0} ms, before the extended ${newMs} ms ` +
        `(the original ${invisibleMs} ms was not extended)`);
    }
    return again;
  }, 0);
  const after = Date.now() - t0;
  log(`redelivered after ${after} ms (extended to ${newMs} ms), attempt ${again.deliveryAttempt}`);
  assert.ok(again.deliveryAttempt > 1, `deliveryAttempt ${again.deliveryAttempt}`);
  await consumer.ack(again);

  const quiet = Date.now() + 3000;
  while (Date.now() < quiet) {
    const { views } = await L.receiveOnce(consumer, 1, 20000);
    assert.strictEqual(views.length, 0, `acked message came back: ${views.map(v => v.messageId)}`);
  }
  await L.shutdown(consumer);
  await L.shutdown(producer);
});
