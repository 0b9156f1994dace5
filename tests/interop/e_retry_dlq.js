// (e) Send-back, retry and dead-letter queue. The consumer (maxReconsumeTimes 2) throws for one
// message every time. ali-ons answers each failure with CONSUMER_SEND_MSG_BACK (delayLevel 0,
// maxReconsumeTimes 2); the broker re-stores the message in %RETRY%<group> with delay level
// 3 + reconsumeTimes (run.sh sets messageDelayLevel to 1 s for every level) and reconsumeTimes+1,
// and once reconsumeTimes reaches 2 it moves it to %DLQ%<group> instead.
//
// Asserted: the failing message is delivered exactly 3 times, with reconsumeTimes 0, 1, 2, the same
// body/tags/keys, the original topic (ali-ons maps the retry topic back through RETRY_TOPIC),
// ORIGIN_MESSAGE_ID = the original msgId on the retries, each retry at least ~1 s (the delay) after
// the previous failure; then no 4th delivery; the other messages are delivered once; the retry topic
// is routed (1 queue, created by the heartbeat); %DLQ%<group> holds exactly that one message (read by a
// raw pull on the broker and found by key with QUERY_MESSAGE) with RETRY_TOPIC = the original topic,
// ORIGIN_MESSAGE_ID = the original msgId and reconsumeTimes 3 (Java: reconsumeTimes + 1 of the last
// failed delivery).
'use strict';

const assert = require('assert');
const L = require('./lib');

const N = 6;
const QUEUES = 2;
const MAX_RECONSUME = 2;

L.scenario('e_retry_dlq', async ({ log }) => {
  const broker = 'broker-a';
  const topic = `IE_${L.env.runId}`;
  const group = `GID_IE_${L.env.runId}`;
  const retryTopic = `%RETRY%${group}`;
  const dlqTopic = `%DLQ%${group}`;
  await L.setupTopic(topic, [ broker ], QUEUES);

  const sent = L.makeMessages(topic, N, { prefix: 'e' });
  const failKey = sent[3].keys[0];
  const consumer = await L.startConsumer('e-consumer', {
    group, maxReconsumeTimes: MAX_RECONSUME, failKeys: [ failKey ], subscriptions: [ { topic, expression: '*' } ],
  });
  // The heartbeat makes the broker create and register the group's retry topic.
  const retryRoute = await L.waitRoute(retryTopic, [ broker ], 1, 10000);
  log(`retry topic routed: ${JSON.stringify(retryRoute.queueDatas)}`);
  await L.waitUntil(`the consumer to hold ${QUEUES} queues of ${topic} and the retry queue`, 15000, note => {
    note(JSON.stringify(consumer.queues));
    return consumer.queues && consumer.queues.filter(q => q.topic === topic).length === QUEUES &&
      consumer.queues.some(q => q.topic === retryTopic);
  });

  const producer = await L.startProducer('e-producer', `PID_IE_${L.env.runId}`);
  const results = await producer.send(sent);
  L.assertSendResults(topic, results);
  const failId = results[3].msgId;

  const failing = () => consumer.msgs.filter(x => x.outcome === 'fail').map(x => x.m);
  await L.waitUntil(`${MAX_RECONSUME + 1} deliveries of the failing message`, 40000, note => {
    note(`deliveries so far: ${JSON.stringify(failing().map(m => ({ topic: m.topic, reconsumeTimes: m.reconsumeTimes, msgId: m.msgId })))}`);
    return failing().length >= MAX_RECONSUME + 1;
  });

  // The DLQ topic appears and holds the message.
  const dlqRoute = await L.waitUntil(`${dlqTopic} to be routed`, 15000, async note => {
    const { route, resp } = await L.getRoute(dlqTopic);
    note(L.describeResponse(resp));
    return route && route.queueDatas.length ? route : null;
  }, 200);
  log(`DLQ routed: ${JSON.stringify(dlqRoute.queueDatas)}`);
  const dlqQueues = dlqRoute.queueDatas.find(q => q.brokerName === broker);
  assert.ok(dlqQueues, `${dlqTopic} is not routed to ${broker}`);
  let dlq = [];
  await L.waitUntil(`the failing message in ${dlqTopic}`, 10000, async note => {
    dlq = [];
    for (let q = 0; q < dlqQueues.readQueueNums; q++) {
      const { messages } = await L.pullAll(broker, dlqTopic, q, `GID_IE_DLQREADER_${L.env.runId}`);
      dlq.push(...messages);
    }
    note(`${dlq.length} messages in the DLQ`);
    return dlq.length > 0;
  }, 300);
  await L.sleep(2500); // longer than the retry delay: no 4th delivery may follow

  const f = failing();
  const deliveries = f.map(m => ({ topic: m.topic, reconsumeTimes: m.reconsumeTimes, msgId: m.msgId, at: m.at }));
  log(`deliveries of the failing message: ${JSON.stringify(deliveries)}`);
  assert.strictEqual(f.length, MAX_RECONSUME + 1, `the failing message should be delivered ${MAX_RECONSUME + 1} times`);
  f.forEach((m, i) => {
    const ctx = `delivery #${i} of the failing message`;
    assert.strictEqual(m.reconsumeTimes, i, `${ctx}: reconsumeTimes`);
    assert.strictEqual(Buffer.from(m.body, 'base64').toString('hex'), Buffer.from(sent[3].body).toString('hex'), `${ctx}: body`);
    assert.strictEqual(m.tags, sent[3].tags, `${ctx}: tags`);
    assert.strictEqual(m.keys, sent[3].keys.join(' '), `${ctx}: keys`);
    assert.strictEqual(m.topic, topic, `${ctx}: topic as the handler sees it`);
    if (i === 0) {
      assert.strictEqual(m.msgId, failId, `${ctx}: msgId`);
    } else {
      assert.strictEqual(m.properties.RETRY_TOPIC, topic, `${ctx}: RETRY_TOPIC`);
      assert.strictEqual(m.properties.ORIGIN_MESSAGE_ID, failId, `${ctx}: ORIGIN_MESSAGE_ID`);
      assert.notStrictEqual(m.msgId, failId, `${ctx}: a retry is a new message in the retry topic`);
      const gap = m.at - f[i - 1].at;
      assert.ok(gap >= 800, `${ctx}: redelivered ${gap} ms after the previous failure; the delay level is 1 s`);
    }
  });

  // Every other message exactly once.
  const ok = consumer.acked();
  const others = sent.filter((_, i) => i !== 3);
  const otherResults = results.filter((_, i) => i !== 3);
  L.assertExactlySent('messages that succeed', others, otherResults, ok);

  // The dead letter.
  assert.strictEqual(dlq.length, 1, `${dlqTopic} should hold exactly 1 message, holds ${dlq.length}`);
  const d = dlq[0];
  assert.strictEqual(d.topic, dlqTopic);
  assert.strictEqual(d.body.toString('hex'), Buffer.from(sent[3].body).toString('hex'), 'DLQ body');
  assert.strictEqual(d.properties.KEYS, sent[3].keys.join(' '), 'DLQ KEYS');
  assert.strictEqual(d.properties.TAGS, sent[3].tags, 'DLQ TAGS');
  assert.strictEqual(d.properties.RETRY_TOPIC, topic, 'DLQ RETRY_TOPIC');
  assert.strictEqual(d.properties.ORIGIN_MESSAGE_ID, failId, 'DLQ ORIGIN_MESSAGE_ID');
  assert.strictEqual(d.reconsumeTimes, MAX_RECONSUME + 1, 'DLQ reconsumeTimes');
  assert.strictEqual(d.storeHost, L.brokerAddr(broker));

  // The dead letter can be found by its key in the DLQ topic.
  const q = await L.R.requestOnce(L.brokerAddr(broker), L.R.Code.QUERY_MESSAGE, {
    topic: dlqTopic, key: failKey, maxNum: '32', beginTimestamp: '0', endTimestamp: String(Date.now() + 3600000),
  });
  assert.strictEqual(q.code, 0, `QUERY_MESSAGE ${dlqTopic} key ${failKey}: ${L.describeResponse(q)}`);
  const found = L.R.decodeMessages(q.body);
  assert.deepStrictEqual(found.map(m => m.msgId), [ d.msgId ], 'QUERY_MESSAGE in the DLQ topic');
  log(`failing message delivered ${f.length} times then dead-lettered as ${d.msgId}`);

  await consumer.close();
  await producer.close();
});
