// (a) An ali-ons producer sends N messages with tags and keys (some over 4 KiB, so deflated) to a
// topic on the SYNC_FLUSH broker and to one on the ASYNC_FLUSH broker; an ali-ons consumer in
// another process receives exactly those: one delivery each, same msgId as the send result, body
// (inflated), tags, keys, topic, queue id and queue offset, store host = the broker, reconsumeTimes 0.
'use strict';

const assert = require('assert');
const L = require('./lib');

const N = 40;
const QUEUES = 4;

L.scenario('a_produce_consume', async ({ log }) => {
  for (const [ broker, info ] of Object.entries(L.env.brokers)) {
    const tag = `${info.flush}`;
    const topic = `IA_${tag}_${L.env.runId}`;
    const group = `GID_IA_${tag}_${L.env.runId}`;
    await L.setupTopic(topic, [ broker ], QUEUES);
    log(`${topic} routed to ${broker} (${info.addr}, ${info.flush})`);

    const consumer = await L.startConsumer(`a-consumer-${tag}`, { group, subscriptions: [ { topic, expression: '*' } ] });
    await L.waitUntil(`the consumer to be assigned all ${QUEUES} queues of ${topic}`, 15000, note => {
      note(JSON.stringify(consumer.queues));
      return consumer.queues && consumer.queues.filter(q => q.topic === topic).length === QUEUES;
    });

    const producer = await L.startProducer(`a-producer-${tag}`, `PID_IA_${tag}_${L.env.runId}`);
    const sent = L.makeMessages(topic, N, { prefix: `a${tag}`, bigEvery: 10 });
    const t0 = Date.now();
    const results = await producer.send(sent);
    log(`sent ${N} messages in ${Date.now() - t0} ms`);
    L.assertSendResults(topic, results);
    for (const r of results) assert.strictEqual(r.brokerName, broker);
    const usedQueues = new Set(results.map(r => r.queueId));
    assert.strictEqual(usedQueues.size, QUEUES, `the producer should spread ${N} messages over all ${QUEUES} queues, used ${[ ...usedQueues ]}`);

    await L.waitUntil(`the consumer to receive ${N} messages from ${topic}`, 30000, note => {
      note(`${consumer.acked().length} received`);
      return consumer.acked().length >= N;
    });
    log(`consumer received ${N} messages ${Date.now() - t0} ms after the first send`);
    await L.sleep(1500); // quiet period: nothing more may arrive
    const received = consumer.acked();
    L.assertExactlySent(topic, sent, results, received);
    for (const m of received) {
      assert.strictEqual(m.storeHost, info.addr, `storeHost of ${m.msgId}`);
      assert.match(m.bornHost, /^127\.0\.0\.1:\d+$/, `bornHost of ${m.msgId}`);
      assert.ok(m.storeTimestamp >= m.bornTimestamp - 1000, `storeTimestamp ${m.storeTimestamp} vs bornTimestamp ${m.bornTimestamp}`);
      assert.strictEqual(m.brokerName, broker);
    }
    const big = received.filter(m => Buffer.from(m.body, 'base64').length > 4096);
    assert.strictEqual(big.length, N / 10);
    for (const m of big) assert.strictEqual(m.sysFlag & 1, 1, `message ${m.msgId} over 4 KiB should be stored with the COMPRESSED sysFlag`);

    await consumer.close();
    await producer.close();
    log(`${info.flush}: ${N} messages, each received once with matching msgId/body/tags/keys`);
  }
});
