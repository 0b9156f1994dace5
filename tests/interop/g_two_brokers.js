// (g) Two brokers (broker-a and broker-b, one cluster) behind one name server. A topic created on
// both is routed with both (brokerDatas with each master address and the cluster name, queueDatas
// 4/4 perm 6); an ali-ons producer spreads its messages over both brokers (each msgId names the
// broker the send result says); the brokers' max offsets add up to what was sent to each; one
// consumer receives every message exactly once.
'use strict';

const assert = require('assert');
const L = require('./lib');

const N = 48;
const QUEUES = 4;

L.scenario('g_two_brokers', async ({ log }) => {
  const names = Object.keys(L.env.brokers).sort();
  assert.deepStrictEqual(names, [ 'broker-a', 'broker-b' ]);
  const topic = `IG_${L.env.runId}`;
  const group = `GID_IG_${L.env.runId}`;
  const route = await L.setupTopic(topic, names, QUEUES);
  for (const name of names) {
    const b = route.brokerDatas.find(x => x.brokerName === name);
    assert.strictEqual(b.cluster, L.env.cluster, `brokerData.cluster of ${name}`);
    assert.deepStrictEqual(Object.keys(b.brokerAddrs), [ '0' ], `${name} should have only a master address`);
  }
  log(`route: ${JSON.stringify(route)}`);
  // An unknown topic is TOPIC_NOT_EXIST (17), which is what makes ali-ons's send() fail fast.
  const unknown = await L.getRoute(`IG_NO_SUCH_TOPIC_${L.env.runId}`);
  assert.strictEqual(unknown.code, L.R.Code.TOPIC_NOT_EXIST, `route of an unknown topic: ${L.describeResponse(unknown.resp)}`);

  const consumer = await L.startConsumer('g-consumer', { group, subscriptions: [ { topic, expression: '*' } ] });
  await L.waitUntil(`the consumer to hold all ${2 * QUEUES} queues on both brokers`, 15000, note => {
    note(JSON.stringify(consumer.queues));
    return consumer.queues && consumer.queues.filter(q => q.topic === topic).length === 2 * QUEUES;
  });

  const producer = await L.startProducer('g-producer', `PID_IG_${L.env.runId}`);
  const sent = L.makeMessages(topic, N, { prefix: 'g' });
  const results = await producer.send(sent);
  L.assertSendResults(topic, results);
  const perBroker = {};
  for (const r of results) perBroker[r.brokerName] = (perBroker[r.brokerName] || 0) + 1;
  log(`messages per broker: ${JSON.stringify(perBroker)}`);
  for (const name of names) assert.ok(perBroker[name] > 0, `no message went to ${name}`);

  // The consume queues are built by the broker's dispatcher after the append is acknowledged (as
  // RocketMQ's reput service does), so the max offsets may trail the acks for a moment.
  for (const name of names) {
    let total = 0;
    await L.waitUntil(`GET_MAX_OFFSET on ${name} to count the ${perBroker[name]} messages sent there`, 10000, async note => {
      total = 0;
      for (let q = 0; q < QUEUES; q++) total += await L.getMaxOffset(name, topic, q);
      note(`sum ${total}`);
      return total >= perBroker[name];
    });
    assert.strictEqual(total, perBroker[name], `${name}: GET_MAX_OFFSET over ${QUEUES} queues sums to ${total}, ${perBroker[name]} were sent there`);
  }

  await L.waitUntil(`the consumer to receive ${N} messages`, 30000, note => {
    note(`${consumer.acked().length} received`);
    return consumer.acked().length >= N;
  });
  await L.sleep(1500);
  const got = consumer.acked();
  L.assertExactlySent(topic, sent, results, got);
  for (const m of got) {
    const r = results.find(x => x.msgId === m.msgId);
    assert.strictEqual(m.brokerName, r.brokerName, `${m.msgId} consumed from ${m.brokerName}, sent to ${r.brokerName}`);
    assert.strictEqual(m.storeHost, L.brokerAddr(r.brokerName));
  }
  log(`consumer received all ${N} messages from both brokers once each`);
  await consumer.close();
  await producer.close();
});
