// (g) Message types through the real 5.x client, end to end on one topic:
// - DELAY: a message with deliveryTimestamp = now + 3 s is never received before that time and
//   arrives within the timer's precision plus slack after it;
// - TRANSACTION: two half messages stay invisible while a receive runs; after one is committed
//   and the other rolled back, the committed one is received once and the rolled-back one never;
// - FIFO: 10 messages of one message group arrive in send order, carrying their group.
'use strict';

const assert = require('assert');
const L = require('./lib');

const COMMIT = 1;  // apache.rocketmq.v2.TransactionResolution
const ROLLBACK = 2;
const DELAY_MS = 3000;
const FIFO_N = 10;

L.scenario('g_message_types', async ({ log }) => {
  const topic = `GG_${L.env.runId}`;
  await L.createTopic(topic, 2);
  // A check-back (none is expected: both halves are resolved at once) would roll back.
  const producer = await L.startProducer('g-producer', [ topic ], { checker: { check: async () => ROLLBACK } });
  const consumer = await L.startConsumer('g-consumer', `GID_GG_${L.env.runId}`, topic);
  const got = [];  // { view, at }
  const receive = async () => {
    const { views } = await L.receiveOnce(consumer, 16, 20000);
    for (const v of views) {
      got.push({ view: v, at: Date.now() });
      await consumer.ack(v);
    }
    return views;
  };

  const due = Date.now() + DELAY_MS;
  const delayed = await producer.send({ topic, tag: 'delay', body: Buffer.from('later'), deliveryTimestamp: new Date(due) });
  const tx1 = producer.beginTransaction();
  const committed = await producer.send({ topic, tag: 'tx', body: Buffer.from('committed') }, tx1);
  const tx2 = producer.beginTransaction();
  const rolledBack = await producer.send({ topic, tag: 'tx', body: Buffer.from('rolled back') }, tx2);
  log(`sent delay ${delayed.messageId} (due in ${DELAY_MS} ms), halves ${committed.messageId} and ${rolledBack.messageId}`);

  // Until the delay is due, nothing of these may be received: the halves are not committed.
  while (Date.now() < due - 200) await receive();
  assert.deepStrictEqual(got.filter(g => g.view.tag === 'tx').map(g => g.view.messageId), [],
    'a half message was delivered before its commit');
  await tx1.commit();
  await tx2.rollback();
  log('committed the first half, rolled back the second');

  await L.waitUntil('the delayed and the committed message', 30000, async note => {
    await receive();
    note(`received ${got.map(g => g.view.body.toString())}`);
    return got.some(g => g.view.messageId === delayed.messageId) && got.some(g => g.view.messageId === committed.messageId);
  }, 0);
  const d = got.find(g => g.view.messageId === delayed.messageId);
  assert.ok(d.at >= due, `the delayed message arrived ${due - d.at} ms early`);
  assert.ok(d.at <= due + 5000, `the delayed message arrived ${d.at - due} ms late`);
  assert.strictEqual(d.view.body.toString(), 'later');
  log(`delayed message received ${d.at - due} ms after its time`);

  // FIFO: one message group, sent one by one.
  const fifoIds = [];
  for (let i = 0; i < FIFO_N; i++) {
    const r = await producer.send({ topic, tag: 'fifo', messageGroup: 'order-7', body: Buffer.from(`fifo-${i}`) });
    fifoIds.push(r.messageId);
  }
  await L.waitUntil(`${FIFO_N} FIFO messages`, 30000, async note => {
    await receive();
    const n = got.filter(g => g.view.tag === 'fifo').length;
    note(`${n} received`);
    return n >= FIFO_N;
  }, 0);

  // A last quiet receive: nothing more (no rolled-back message, no duplicate).
  await receive();
  const fifo = got.filter(g => g.view.tag === 'fifo');
  assert.deepStrictEqual(fifo.map(g => g.view.body.toString()), fifoIds.map((_, i) => `fifo-${i}`),
    'FIFO messages out of send order');
  for (const g of fifo) assert.strictEqual(g.view.messageGroup, 'order-7', 'message group lost');
  const ids = got.map(g => g.view.messageId);
  assert.ok(!ids.includes(rolledBack.messageId), 'the rolled-back message was delivered');
  assert.strictEqual(new Set(ids).size, ids.length, `duplicates: ${ids}`);
  assert.strictEqual(ids.length, 2 + FIFO_N, `unexpected messages: ${got.map(g => g.view.body.toString())}`);
  log(`FIFO: ${FIFO_N} in order; rolled-back message never delivered; ${ids.length} messages, no duplicates`);

  await L.shutdown(consumer);
  await L.shutdown(producer);
});
