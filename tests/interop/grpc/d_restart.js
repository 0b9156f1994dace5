// (d) Broker restart in the middle of consumption. `before`: send 10 messages, receive all (15 s
// invisible), ack the even ones, leave the odd ones un-acked, and write the ids to
// LOG_DIR/d_restart.json. run.sh then restarts the broker (SIGTERM, same config). `after`: a new
// SimpleConsumer of the same group gets back exactly the un-acked ones (each once, deliveryAttempt
// > 1) and none of the acked ones.
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const L = require('./lib');

const N = 10;
const phase = process.argv[2];
const stateFile = () => path.join(L.env.logDir, 'd_restart.json');

async function before({ log }) {
  const topic = `GD_${L.env.runId}`;
  const group = `GID_GD_${L.env.runId}`;
  await L.createTopic(topic, 4);
  const producer = await L.startProducer('d-producer', [ topic ]);
  const ids = [];
  for (let i = 0; i < N; i++) {
    ids.push((await producer.send({ topic, body: Buffer.from(`d-${i}`), tag: 'T', keys: [ `d-${i}` ] })).messageId);
  }
  const consumer = await L.startConsumer('d-consumer-1', group, topic);
  const views = await L.receiveN(consumer, N, { timeoutMs: 60000, invisibleMs: 15000, ack: false });
  const acked = [];
  const unacked = [];
  for (const v of views) {
    const i = Number(v.body.toString().slice(2));
    if (i % 2 === 0) {
      await consumer.ack(v);
      acked.push(v.messageId);
    } else {
      unacked.push(v.messageId);
    }
  }
  assert.deepStrictEqual([ ...acked, ...unacked ].sort(), [ ...ids ].sort(), 'received the messages sent');
  fs.writeFileSync(stateFile(), JSON.stringify({ topic, group, acked, unacked }));
  log(`received ${N}, acked ${acked.length}, left ${unacked.length} un-acked`);
  await L.shutdown(consumer);
  await L.shutdown(producer);
}

async function after({ log }) {
  const { topic, group, acked, unacked } = JSON.parse(fs.readFileSync(stateFile(), 'utf8'));
  const consumer = await L.startConsumer('d-consumer-2', group, topic);
  const got = new Map();
  await L.waitUntil(`the ${unacked.length} un-acked messages after the restart`, 60000, async note => {
    const { views } = await L.receiveOnce(consumer, 16, 20000);
    for (const v of views) {
      assert.ok(!acked.includes(v.messageId), `acked message ${v.messageId} came back after the restart`);
      assert.ok(unacked.includes(v.messageId), `unknown message ${v.messageId}`);
      assert.ok(!got.has(v.messageId), `${v.messageId} delivered twice after the restart`);
      assert.ok(v.deliveryAttempt > 1, `deliveryAttempt ${v.deliveryAttempt} of ${v.messageId}`);
      got.set(v.messageId, v);
      await consumer.ack(v);
    }
    note(`${got.size} of ${unacked.length}`);
    return got.size === unacked.length;
  }, 0);
  const { views } = await L.receiveOnce(consumer, 16, 20000);
  assert.strictEqual(views.length, 0, `unexpected after all were acked: ${views.map(v => v.messageId)}`);
  log(`after the restart: the ${unacked.length} un-acked came back once each, none of the ${acked.length} acked`);
  await L.shutdown(consumer);
}

L.scenario(`d_restart ${phase}`, phase === 'before' ? before : after);
