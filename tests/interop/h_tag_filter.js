// (h) Tag filtering on the server. Messages: TagA, TagB, the literal tag "null" (what ali-ons sends for
// `new Message(topic, body)`), and messages with no TAGS property at all. ali-ons filters by tag on
// the client too, but lets untagged messages through, so only the server can keep those away.
//   * a consumer subscribed to "TagA" receives exactly the TagA messages;
//   * one subscribed to "TagB || TagC" receives exactly the TagB messages;
//   * one subscribed to "*" receives everything, untagged included;
//   * raw non-suspended pulls with subscription "TagA" return only TagA messages (server side alone),
//     and with "*" every message.
'use strict';

const assert = require('assert');
const L = require('./lib');

const QUEUES = 2;

L.scenario('h_tag_filter', async ({ log }) => {
  const broker = 'broker-a';
  const topic = `IH_${L.env.runId}`;
  await L.setupTopic(topic, [ broker ], QUEUES);

  const sent = [];
  const kinds = [ 'TagA', 'TagB', 'null', 'none' ];
  for (let i = 0; i < 32; i++) {
    const kind = kinds[i % 4];
    const spec = { topic, keys: [ `h-${L.env.runId}-${i}` ], body: Buffer.from(`h ${kind} ${i}`) };
    if (kind === 'none') spec.noTags = true;
    else spec.tags = kind;
    spec.kind = kind;
    sent.push(spec);
  }

  const subs = [
    { name: 'tagA', expression: 'TagA', want: s => s.kind === 'TagA' },
    { name: 'tagBC', expression: 'TagB || TagC', want: s => s.kind === 'TagB' },
    { name: 'all', expression: '*', want: () => true },
  ];
  const consumers = [];
  for (const sub of subs) {
    const c = await L.startConsumer(`h-consumer-${sub.name}`, {
      group: `GID_IH_${sub.name}_${L.env.runId}`, subscriptions: [ { topic, expression: sub.expression } ],
    });
    consumers.push(c);
  }
  for (const c of consumers) {
    await L.waitUntil(`${c.name} to hold both queues`, 15000, note => {
      note(JSON.stringify(c.queues));
      return c.queues && c.queues.filter(q => q.topic === topic).length === QUEUES;
    });
  }

  const producer = await L.startProducer('h-producer', `PID_IH_${L.env.runId}`);
  const results = await producer.send(sent);
  L.assertSendResults(topic, results);

  for (let k = 0; k < subs.length; k++) {
    const c = consumers[k];
    const idx = sent.map((s, i) => i).filter(i => subs[k].want(sent[i]));
    await L.waitUntil(`${c.name} (${subs[k].expression}) to receive its ${idx.length} messages`, 30000, note => {
      note(`${c.acked().length} received`);
      return c.acked().length >= idx.length;
    });
  }
  await L.sleep(2000); // filtered-out messages would have arrived by now
  for (let k = 0; k < subs.length; k++) {
    const c = consumers[k];
    const idx = sent.map((s, i) => i).filter(i => subs[k].want(sent[i]));
    const got = c.acked();
    const wrong = got.filter(m => !idx.some(i => results[i].msgId === m.msgId));
    assert.deepStrictEqual(wrong.map(m => `${m.msgId} tags=${m.tags}`), [],
      `${c.name} subscribed to "${subs[k].expression}" received messages it should not`);
    L.assertExactlySent(`${c.name} (${subs[k].expression})`, idx.map(i => sent[i]), idx.map(i => results[i]), got);
  }
  log('ali-ons consumers: TagA, TagB || TagC and * each received exactly their messages');

  // The server alone: raw pulls with a tag subscription.
  for (const [ expression, want ] of [ [ 'TagA', s => s.kind === 'TagA' ], [ '*', () => true ], [ 'TagB||TagC', s => s.kind === 'TagB' ] ]) {
    const got = [];
    for (let q = 0; q < QUEUES; q++) {
      const { messages } = await L.pullAll(broker, topic, q, `GID_IH_RAW_${L.env.runId}`, expression);
      got.push(...messages);
    }
    const expect = results.filter((_, i) => want(sent[i])).map(r => r.msgId).sort();
    const bad = got.filter(m => !expect.includes(m.msgId)).map(m => `${m.msgId} TAGS=${m.properties.TAGS}`);
    assert.deepStrictEqual(bad, [], `raw PULL_MESSAGE with subscription "${expression}" returned messages that do not match`);
    assert.deepStrictEqual(got.map(m => m.msgId).sort(), expect, `raw PULL_MESSAGE with subscription "${expression}"`);
  }
  log('raw pulls: the broker filters TagA / TagB||TagC / * itself');

  // Pull edges ali-ons relies on: at the end of the queue -> PULL_NOT_FOUND (19) with
  // nextBeginOffset = max; past the end -> PULL_OFFSET_MOVED (21) with nextBeginOffset = max; a
  // suspended pull at the end is held, then answered 19 once its suspend time is over.
  const max = await L.getMaxOffset(broker, topic, 0);
  const client = await L.R.RemotingClient.connect(L.brokerAddr(broker));
  const pull = (offset, sysFlag, suspend) => client.request(L.R.Code.PULL_MESSAGE, {
    consumerGroup: `GID_IH_RAW_${L.env.runId}`, topic, queueId: '0', queueOffset: String(offset), maxMsgNums: '32',
    sysFlag: String(sysFlag), commitOffset: '0', suspendTimeoutMillis: String(suspend), subscription: '*', subVersion: '1',
  }, null, 30000);
  const atEnd = await pull(max, 4, 0);
  assert.strictEqual(atEnd.code, L.R.Code.PULL_NOT_FOUND, `pull at the max offset ${max}: ${L.describeResponse(atEnd)}`);
  assert.strictEqual(Number(atEnd.extFields.nextBeginOffset), max, `pull at the max offset: ${L.describeResponse(atEnd)}`);
  const t0 = Date.now();
  const held = await pull(max, 4 | 2, 1000);
  const heldMs = Date.now() - t0;
  assert.strictEqual(held.code, L.R.Code.PULL_NOT_FOUND, `suspended pull at the end: ${L.describeResponse(held)}`);
  assert.strictEqual(Number(held.extFields.nextBeginOffset), max);
  assert.ok(heldMs >= 700 && heldMs < 10000, `a pull suspended for 1000 ms was answered after ${heldMs} ms`);
  // Past the end (OFFSET_OVERFLOW_BADLY on a master): RocketMQ develop's DefaultMessageStore.getMessage
  // corrects nextBeginOffset to maxOffset (4.x used minOffset when minOffset == 0); see protocol.md 2.5.
  const past = await pull(max + 5, 4, 0);
  assert.strictEqual(past.code, L.R.Code.PULL_OFFSET_MOVED, `pull past the max offset: ${L.describeResponse(past)}`);
  assert.strictEqual(Number(past.extFields.nextBeginOffset), max,
    `pull at offset ${max + 5} (max ${max}, min 0) should answer nextBeginOffset = max as RocketMQ develop does: ${L.describeResponse(past)}`);
  client.close();
  log(`pull edges: end -> 19, past end -> 21 (next ${max}), suspended 1 s -> 19 after ${heldMs} ms`);
  for (const c of consumers) await c.close();
  await producer.close();
});
