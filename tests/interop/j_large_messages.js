// (j) Large messages through ali-ons: a 3 MiB incompressible body (ali-ons still deflates it,
// sysFlag bit 0), a 1 MiB body that deflates to almost nothing, and several 600 KiB bodies in a row
// (a pull must not try to return more than a frame can carry) all arrive intact. A body over the
// broker's maxMessageSize (4 MiB in run.sh) is refused, is never delivered, and the producer's
// connection stays usable.
'use strict';

const assert = require('assert');
const crypto = require('crypto');
const L = require('./lib');

L.scenario('j_large_messages', async ({ log }) => {
  const broker = 'broker-a';
  const topic = `IJ_${L.env.runId}`;
  const group = `GID_IJ_${L.env.runId}`;
  await L.setupTopic(topic, [ broker ], 1);

  const consumer = await L.startConsumer('j-consumer', { group, subscriptions: [ { topic, expression: '*' } ] });
  await L.waitUntil('the consumer to hold the queue', 15000, () => consumer.queues && consumer.queues.some(q => q.topic === topic));
  const producer = await L.startProducer('j-producer', `PID_IJ_${L.env.runId}`);

  const sent = [
    { topic, tags: 'Big', keys: [ 'j-random-3m' ], body: crypto.randomBytes(3 * 1024 * 1024) },
    { topic, tags: 'Big', keys: [ 'j-zeros-1m' ], body: Buffer.alloc(1024 * 1024) },
  ];
  for (let i = 0; i < 8; i++) sent.push({ topic, tags: 'Mid', keys: [ `j-600k-${i}` ], body: crypto.randomBytes(600 * 1024) });
  const results = await producer.send(sent, 60000);
  L.assertSendResults(topic, results);

  let refused = null;
  try {
    await producer.send([ { topic, tags: 'Huge', keys: [ 'j-oversize' ], body: crypto.randomBytes(4 * 1024 * 1024 + 65536) } ], 60000);
  } catch (err) {
    refused = err.message;
  }
  assert.ok(refused, 'a body over maxMessageSize (4 MiB) was accepted');
  log(`oversize send refused: ${refused}`);
  const after = [ { topic, tags: 'Small', keys: [ 'j-after' ], body: Buffer.from('after the refused one') } ];
  const afterResults = await producer.send(after);

  const all = [ ...sent, ...after ];
  const allResults = [ ...results, ...afterResults ];
  await L.waitUntil(`the consumer to receive ${all.length} messages`, 60000, note => {
    note(`${consumer.acked().length} received`);
    return consumer.acked().length >= all.length;
  });
  await L.sleep(1500);
  L.assertExactlySent(topic, all, allResults, consumer.acked());
  const big = consumer.acked().find(m => m.msgId === results[0].msgId);
  assert.strictEqual(big.sysFlag & 1, 1, 'the 3 MiB message should carry the COMPRESSED sysFlag');
  log('3 MiB, 1 MiB and 8 x 600 KiB bodies delivered intact; the oversize one refused and never delivered');
  await consumer.close();
  await producer.close();
});
