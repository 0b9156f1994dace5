// (d) A clustering consumer resumes from its committed offsets after a clean restart.
//
// N messages are sent first. Run 1 acknowledges (handler returns) the first N/2 deliveries; the
// next delivery blocks forever, so exactly one message is in flight (ali-ons consumes one message
// at a time and acknowledges each queue in order). Run 1 is then closed cleanly (ali-ons persists
// its offsets with UPDATE_CONSUMER_OFFSET and unregisters). M more messages are sent while no
// consumer runs. Run 2 (a new process, same group) must then deliver exactly the rest.
//
// What is asserted (at-least-once, with in-order per-queue acknowledgement):
//   * run 2 delivers every message that run 1 did not acknowledge: (all - acked1) ⊆ run2;
//   * the in-flight message of run 1 is redelivered in run 2;
//   * no acknowledged message is redelivered: acked1 ∩ run2 = ∅. ali-ons commits, per queue, the
//     offset of the first unacknowledged message, and close() persists it, so after a clean
//     shutdown the in-flight window is empty of acknowledged messages; a duplicate here means the
//     broker lost or ignored a committed offset;
//   * run 2 delivers nothing twice and nothing that was not sent.
'use strict';

const assert = require('assert');
const L = require('./lib');

const N = 40;
const M = 10;
const QUEUES = 4;

L.scenario('d_resume', async ({ log }) => {
  const broker = 'broker-a';
  const topic = `ID_${L.env.runId}`;
  const group = `GID_ID_${L.env.runId}`;
  await L.setupTopic(topic, [ broker ], QUEUES);

  const producer = await L.startProducer('d-producer', `PID_ID_${L.env.runId}`);
  const sent1 = L.makeMessages(topic, N, { prefix: 'd1' });
  const results1 = await producer.send(sent1);
  L.assertSendResults(topic, results1);

  const sub = { group, subscriptions: [ { topic, expression: '*' } ] };
  const run1 = await L.startConsumer('d-consumer-run1', Object.assign({ ackLimit: N / 2 }, sub));
  await L.waitUntil(`run 1 to acknowledge ${N / 2} messages and block on the next`, 30000, note => {
    note(`${run1.acked().length} acked, ${run1.msgs.length - run1.acked().length} other`);
    return run1.acked().length === N / 2 && run1.msgs.some(x => x.outcome === 'block');
  });
  await L.sleep(300);
  const acked1 = run1.acked();
  const inflight = run1.msgs.filter(x => x.outcome === 'block').map(x => x.m);
  assert.strictEqual(acked1.length, N / 2);
  assert.strictEqual(inflight.length, 1, `exactly one message should be in flight, got ${inflight.length}`);
  assert.strictEqual(new Set(acked1.map(m => m.msgId)).size, N / 2, 'run 1 delivered a message twice');
  await run1.close();
  log(`run 1 acknowledged ${acked1.length}, left ${inflight[0].msgId} in flight, closed`);

  // Committed offsets, as the broker reports them now.
  const committed = {};
  for (let q = 0; q < QUEUES; q++) {
    const resp = await L.R.requestOnce(L.brokerAddr(broker), L.R.Code.QUERY_CONSUMER_OFFSET,
      { topic, consumerGroup: group, queueId: String(q) });
    committed[q] = resp.code === 0 ? Number(resp.extFields.offset) : `code ${resp.code}`;
  }
  log(`committed offsets after run 1: ${JSON.stringify(committed)}`);
  // ali-ons sends commitOffset -1 for queues at offset 0 (protocol.md 2.4); the broker must ignore it.
  for (const [ q, c ] of Object.entries(committed)) {
    assert.ok(c === 'code 22' || (typeof c === 'number' && c >= 0), `queue ${q}: committed offset ${c} after ali-ons sent commitOffset -1`);
  }
  // Every acknowledged message lies below its queue's committed offset.
  for (const m of acked1) {
    const c = committed[m.queueId];
    assert.ok(typeof c === 'number' && m.queueOffset < c,
      `acknowledged ${m.msgId} (queue ${m.queueId}, offset ${m.queueOffset}) is not below the committed offset ${c} ` +
      '(QUERY_CONSUMER_OFFSET after a clean close)');
  }

  const sent2 = L.makeMessages(topic, M, { prefix: 'd2' });
  const results2 = await producer.send(sent2);
  L.assertSendResults(topic, results2);
  const all = [ ...results1, ...results2 ];
  const ackedIds = new Set(acked1.map(m => m.msgId));
  const expected = all.filter(r => !ackedIds.has(r.msgId));

  const run2 = await L.startConsumer('d-consumer-run2', sub);
  await L.waitUntil(`run 2 to deliver the ${expected.length} messages run 1 did not acknowledge`, 30000, note => {
    const got = new Set(run2.acked().map(m => m.msgId));
    const missing = expected.filter(r => !got.has(r.msgId));
    note(`${missing.length} missing, ${run2.acked().length} delivered`);
    return missing.length === 0;
  });
  await L.sleep(1500);
  const r2 = run2.acked();
  const redelivered = r2.filter(m => ackedIds.has(m.msgId));
  assert.deepStrictEqual(redelivered.map(m => `${m.msgId}@q${m.queueId}/${m.queueOffset}`), [],
    'messages acknowledged in run 1 were delivered again in run 2 after a clean close');
  assert.ok(r2.some(m => m.msgId === inflight[0].msgId), 'the in-flight message of run 1 was not redelivered');
  // Exactly the rest, once each, with the right contents.
  const byId = new Map(all.map((r, i) => [ r.msgId, i ]));
  const sentAll = [ ...sent1, ...sent2 ];
  const restSent = expected.map(r => sentAll[byId.get(r.msgId)]);
  L.assertExactlySent('run 2', restSent, expected, r2);
  log(`run 2 delivered exactly the ${expected.length} unacknowledged messages, no redelivery`);
  await run2.close();
  await producer.close();
});
