// (i) A broker restart keeps topics, messages, the index and consumer offsets. run.sh runs
//   node i_restart.js before   -> topic on broker-a, N messages, a consumer acknowledges N/2 and
//                                 closes cleanly; what was sent and committed goes to a state file
//   (run.sh stops broker-a with SIGTERM, which must exit 0, and starts it again on the same port)
//   node i_restart.js after    -> the route comes back (the topic config was persisted); max offsets
//                                 are unchanged; every message is still readable by msgId
//                                 (VIEW_MESSAGE_BY_ID) and by key (QUERY_MESSAGE); the group's
//                                 committed offsets are the ones from before; a consumer of the
//                                 group gets exactly the unacknowledged rest; new sends continue
//                                 each queue's offsets.
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const L = require('./lib');

const N = 40;
const QUEUES = 4;
const phase = process.argv[2];
const broker = 'broker-a';
const stateFile = path.join(L.env.logDir, '..', 'i_restart.state.json');

async function committedOffsets(topic, group) {
  const out = {};
  for (let q = 0; q < QUEUES; q++) {
    const resp = await L.R.requestOnce(L.brokerAddr(broker), L.R.Code.QUERY_CONSUMER_OFFSET,
      { topic, consumerGroup: group, queueId: String(q) });
    out[q] = resp.code === 0 ? Number(resp.extFields.offset) : `code ${resp.code}`;
  }
  return out;
}

async function maxOffsets(topic) {
  const out = {};
  for (let q = 0; q < QUEUES; q++) out[q] = await L.getMaxOffset(broker, topic, q);
  return out;
}

async function before({ log }) {
  const topic = `II_${L.env.runId}`;
  const group = `GID_II_${L.env.runId}`;
  await L.setupTopic(topic, [ broker ], QUEUES);
  const producer = await L.startProducer('i-producer-before', `PID_II_${L.env.runId}`);
  const sent = L.makeMessages(topic, N, { prefix: 'i', bigEvery: 8 });
  const results = await producer.send(sent);
  L.assertSendResults(topic, results);
  const consumer = await L.startConsumer('i-consumer-before', { group, ackLimit: N / 2, subscriptions: [ { topic, expression: '*' } ] });
  await L.waitUntil(`the consumer to acknowledge ${N / 2} messages`, 30000, note => {
    note(`${consumer.acked().length} acked`);
    return consumer.acked().length === N / 2 && consumer.msgs.some(x => x.outcome === 'block');
  });
  await consumer.close();
  await producer.close();
  const state = {
    topic, group,
    sent: sent.map(s => Object.assign({}, s, { body: Buffer.from(s.body).toString('base64') })),
    results,
    acked: consumer.acked().map(m => m.msgId),
    committed: await committedOffsets(topic, group),
    max: await maxOffsets(topic),
  };
  fs.writeFileSync(stateFile, JSON.stringify(state));
  log(`before restart: ${N} sent, ${state.acked.length} acknowledged, committed ${JSON.stringify(state.committed)}, max ${JSON.stringify(state.max)}`);
}

async function after({ log }) {
  const st = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  const sent = st.sent.map(s => Object.assign({}, s, { body: Buffer.from(s.body, 'base64') }));
  const { topic, group, results } = st;

  await L.waitRoute(topic, [ broker ], QUEUES, 15000);
  assert.deepStrictEqual(await maxOffsets(topic), st.max, 'GET_MAX_OFFSET after the restart');
  assert.deepStrictEqual(await committedOffsets(topic, group), st.committed, 'QUERY_CONSUMER_OFFSET after the restart');

  const client = await L.R.RemotingClient.connect(L.brokerAddr(broker));
  for (let i = 0; i < N; i++) {
    const id = L.R.decodeMessageId(results[i].msgId);
    const r = await client.request(L.R.Code.VIEW_MESSAGE_BY_ID, { offset: String(id.offset) });
    assert.strictEqual(r.code, 0, `VIEW_MESSAGE_BY_ID ${results[i].msgId} after the restart: ${L.describeResponse(r)}`);
    const [ m ] = L.R.decodeMessages(r.body);
    assert.strictEqual(m.msgId, results[i].msgId);
    assert.strictEqual(m.body.toString('hex'), sent[i].body.toString('hex'), `body of ${results[i].msgId} after the restart`);
    assert.strictEqual(m.queueOffset, results[i].queueOffset);
  }
  for (const i of [ 0, N - 1 ]) {
    const r = await client.request(L.R.Code.QUERY_MESSAGE, {
      topic, key: sent[i].keys[1], maxNum: '32', beginTimestamp: '0', endTimestamp: String(Date.now() + 3600000),
    });
    assert.strictEqual(r.code, 0, `QUERY_MESSAGE key ${sent[i].keys[1]} after the restart: ${L.describeResponse(r)}`);
    assert.deepStrictEqual(L.R.decodeMessages(r.body).map(m => m.msgId), [ results[i].msgId ]);
  }
  client.close();
  log('after restart: route, max offsets, committed offsets, VIEW_MESSAGE_BY_ID and QUERY_MESSAGE all as before');

  // New messages continue each queue.
  const producer = await L.startProducer('i-producer-after', `PID_II_${L.env.runId}`);
  const more = L.makeMessages(topic, 8, { prefix: 'i2' });
  const moreResults = await producer.send(more);
  L.assertSendResults(topic, moreResults);
  const next = Object.assign({}, st.max);
  for (const r of moreResults) {
    assert.strictEqual(r.queueOffset, next[r.queueId], `queue ${r.queueId}: new message at offset ${r.queueOffset}, expected ${next[r.queueId]}`);
    next[r.queueId]++;
  }
  const maxCommitLog = Math.max(...results.map(r => L.R.decodeMessageId(r.msgId).offset));
  for (const r of moreResults) {
    assert.ok(L.R.decodeMessageId(r.msgId).offset > maxCommitLog, `new message ${r.msgId} does not follow the old ones in the commit log`);
  }

  // The group resumes after its committed offsets: exactly the messages not acknowledged before.
  const consumer = await L.startConsumer('i-consumer-after', { group, subscriptions: [ { topic, expression: '*' } ] });
  const ackedIds = new Set(st.acked);
  const allSent = [ ...sent, ...more ];
  const allResults = [ ...results, ...moreResults ];
  const idx = allResults.map((r, i) => i).filter(i => !ackedIds.has(allResults[i].msgId));
  await L.waitUntil(`the consumer to receive the ${idx.length} unacknowledged messages`, 30000, note => {
    note(`${consumer.acked().length} received`);
    return consumer.acked().length >= idx.length;
  });
  await L.sleep(1500);
  const again = consumer.acked().filter(m => ackedIds.has(m.msgId)).map(m => m.msgId);
  assert.deepStrictEqual(again, [], 'messages acknowledged before the broker restart were delivered again');
  L.assertExactlySent('consumer after the restart', idx.map(i => allSent[i]), idx.map(i => allResults[i]), consumer.acked());
  log(`the group resumed with exactly the ${idx.length} unacknowledged messages`);
  await consumer.close();
  await producer.close();
}

if (phase !== 'before' && phase !== 'after') {
  console.error('usage: node i_restart.js before|after (run by run.sh around a broker restart)');
  process.exit(2);
}
L.scenario(`i_restart ${phase}`, phase === 'before' ? before : after);
