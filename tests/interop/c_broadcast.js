// (c) Broadcasting (ali-ons `isBroadcast: true`): two consumer processes in the same group each
// hold every queue and each receive every message exactly once.
'use strict';

const assert = require('assert');
const L = require('./lib');

const N = 30;
const QUEUES = 4;

L.scenario('c_broadcast', async ({ log }) => {
  const broker = 'broker-a';
  const topic = `IC_${L.env.runId}`;
  const group = `GID_IC_${L.env.runId}`;
  await L.setupTopic(topic, [ broker ], QUEUES);

  // Distinct instance names, as two hosts would have (a broadcast consumer keeps ip@DEFAULT otherwise).
  const cs = [];
  for (const i of [ 1, 2 ]) {
    cs.push(await L.startConsumer(`c-consumer-${i}`, {
      group, broadcast: true, instanceName: `bc${i}_${L.env.runId}`, subscriptions: [ { topic, expression: '*' } ],
    }));
  }
  for (const c of cs) {
    await L.waitUntil(`${c.name} to hold all ${QUEUES} queues`, 15000, note => {
      note(JSON.stringify(c.queues));
      return c.queues && c.queues.filter(q => q.topic === topic).length === QUEUES;
    });
  }

  const producer = await L.startProducer('c-producer', `PID_IC_${L.env.runId}`);
  const sent = L.makeMessages(topic, N, { prefix: 'c' });
  const results = await producer.send(sent);
  L.assertSendResults(topic, results);

  for (const c of cs) {
    await L.waitUntil(`${c.name} to receive all ${N} messages`, 30000, note => {
      note(`${c.acked().length} received`);
      return c.acked().length >= N;
    });
  }
  await L.sleep(1500);
  for (const c of cs) {
    L.assertExactlySent(c.name, sent, results, c.acked());
    assert.ok(!c.acked().some(m => m.topic.startsWith('%RETRY%')), 'a broadcast consumer has no retry topic');
  }
  log(`both broadcast consumers received all ${N} messages once`);
  for (const c of cs) await c.close();
  await producer.close();
});
