// (b) Clustering: two consumer processes in one group share the topic's queues (disjoint halves,
// by ali-ons's AVG allocation over GET_CONSUMER_LIST_BY_GROUP), and every message sent after the
// split settled is consumed exactly once across the two (the union of delivered msgIds equals the
// sent set, no msgId twice, each consumer only gets messages of its own queues).
'use strict';

const assert = require('assert');
const L = require('./lib');

const N = 80;
const QUEUES = 8;

L.scenario('b_clustering', async ({ log }) => {
  const broker = 'broker-a';
  const topic = `IB_${L.env.runId}`;
  const group = `GID_IB_${L.env.runId}`;
  await L.setupTopic(topic, [ broker ], QUEUES);

  const sub = { group, subscriptions: [ { topic, expression: '*' } ] };
  const c1 = await L.startConsumer('b-consumer-1', sub);
  await L.waitUntil(`consumer 1 alone to hold all ${QUEUES} queues`, 15000, note => {
    note(JSON.stringify(c1.queues));
    return c1.queues && c1.queues.filter(q => q.topic === topic).length === QUEUES;
  });
  const c2 = await L.startConsumer('b-consumer-2', sub);

  // The broker's consumer list must show both clients, exactly as their heartbeats named them.
  const ids = [ c1.readyInfo.clientId, c2.readyInfo.clientId ].sort();
  await L.waitUntil('GET_CONSUMER_LIST_BY_GROUP to list both consumers', 10000, async note => {
    const resp = await L.R.requestOnce(L.brokerAddr(broker), L.R.Code.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group });
    note(L.describeResponse(resp));
    if (resp.code !== 0) return false;
    const list = JSON.parse(resp.body.toString()).consumerIdList;
    return JSON.stringify([ ...list ].sort()) === JSON.stringify(ids);
  });

  const own = c => (c.queues || []).filter(q => q.topic === topic).map(q => q.queueId);
  await L.waitUntil('the two consumers to split the queues 4/4, disjoint and complete', 20000, note => {
    const a = own(c1);
    const b = own(c2);
    note(`consumer 1 ${JSON.stringify(a)}, consumer 2 ${JSON.stringify(b)}`);
    const all = [ ...a, ...b ].sort((x, y) => x - y);
    return a.length === QUEUES / 2 && b.length === QUEUES / 2 && JSON.stringify(all) === JSON.stringify([ ...Array(QUEUES).keys() ]);
  });
  await L.sleep(1500); // one more rebalance round: the split must be stable
  const q1 = own(c1);
  const q2 = own(c2);
  log(`split: consumer 1 ${JSON.stringify(q1)}, consumer 2 ${JSON.stringify(q2)}`);
  assert.strictEqual(q1.length + q2.length, QUEUES, 'the split changed after settling');

  const producer = await L.startProducer('b-producer', `PID_IB_${L.env.runId}`);
  const sent = L.makeMessages(topic, N, { prefix: 'b' });
  const results = await producer.send(sent);
  L.assertSendResults(topic, results);

  await L.waitUntil(`${N} messages across both consumers`, 30000, note => {
    const n = c1.acked().length + c2.acked().length;
    note(`${c1.acked().length} + ${c2.acked().length}`);
    return n >= N;
  });
  await L.sleep(1500);
  const r1 = c1.acked();
  const r2 = c2.acked();
  log(`consumer 1 got ${r1.length}, consumer 2 got ${r2.length}`);
  assert.ok(r1.length > 0 && r2.length > 0, 'both consumers must get messages');
  for (const m of r1) assert.ok(q1.includes(m.queueId), `consumer 1 got ${m.msgId} from queue ${m.queueId}, not one of its queues ${q1}`);
  for (const m of r2) assert.ok(q2.includes(m.queueId), `consumer 2 got ${m.msgId} from queue ${m.queueId}, not one of its queues ${q2}`);
  L.assertExactlySent('union of both consumers', sent, results, [ ...r1, ...r2 ]);

  // Consumer 1 leaves cleanly (UNREGISTER_CLIENT): the broker drops it from the group at once and
  // consumer 2 takes over all queues, resuming at the committed offsets (nothing is redelivered).
  await c1.close();
  const listOf = async () => {
    const resp = await L.R.requestOnce(L.brokerAddr(broker), L.R.Code.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group });
    return { resp, list: resp.code === 0 ? JSON.parse(resp.body.toString()).consumerIdList : [] };
  };
  const after = await listOf();
  assert.deepStrictEqual(after.list, [ c2.readyInfo.clientId ],
    `after consumer 1 unregistered, GET_CONSUMER_LIST_BY_GROUP should list only consumer 2: ${L.describeResponse(after.resp)}`);
  await L.waitUntil(`consumer 2 to take over all ${QUEUES} queues`, 15000, note => {
    note(JSON.stringify(own(c2)));
    return own(c2).length === QUEUES;
  });
  const more = L.makeMessages(topic, 16, { prefix: 'b2' });
  const before = c2.acked().length;
  const moreResults = await producer.send(more);
  await L.waitUntil('consumer 2 to receive the 16 messages sent after the takeover', 30000, note => {
    note(`${c2.acked().length - before} received`);
    return c2.acked().length - before >= 16;
  });
  await L.sleep(1500);
  L.assertExactlySent('consumer 2 after the takeover', more, moreResults, c2.acked().slice(before));
  await c2.close();
  const empty = await listOf();
  assert.ok(empty.list.length === 0, `after both consumers unregistered the group should be empty: ${L.describeResponse(empty.resp)}`);
  await producer.close();
  log('after consumer 1 left, consumer 2 took over all queues without redelivery; the group is empty after both left');
});
