// (f) Message lookups that ali-ons does not expose, as raw remoting requests on the broker:
//   QUERY_MESSAGE (12) by key: each message by its first key and by its second key, all of them by a
//     shared key, maxNum honoured, an unknown key and a key of another topic -> QUERY_NOT_FOUND (22);
//   VIEW_MESSAGE_BY_ID (33) by the offset msgId from ali-ons's send result: the msgId names the
//     broker's address, and the message at its commit-log offset is the one sent (decoded per
//     protocol.md §2.7, and by ali-ons's own decoder too); a bad offset is refused.
'use strict';

const assert = require('assert');
const ByteBuffer = require('byte');
const MessageDecoder = require('ali-ons/lib/message/message_decoder');
const L = require('./lib');

const N = 6;

L.scenario('f_query', async ({ log }) => {
  const broker = 'broker-a';
  const addr = L.brokerAddr(broker);
  const topic = `IF_${L.env.runId}`;
  const other = `IF_OTHER_${L.env.runId}`;
  await L.setupTopic(topic, [ broker ], 2);
  await L.setupTopic(other, [ broker ], 1);

  const producer = await L.startProducer('f-producer', `PID_IF_${L.env.runId}`);
  const shared = `f-shared-${L.env.runId}`;
  const sent = L.makeMessages(topic, N, { prefix: 'f', bigEvery: 3 });
  for (const s of sent) s.keys.push(shared);
  const results = await producer.send(sent);
  L.assertSendResults(topic, results);
  // a message in the other topic with the same first key as message 0
  const otherSent = [ { topic: other, tags: 'TagX', keys: [ `only-other-${L.env.runId}` ], body: Buffer.from('other') } ];
  await producer.send(otherSent);

  const client = await L.R.RemotingClient.connect(addr);
  const query = (t, key, maxNum = 32) => client.request(L.R.Code.QUERY_MESSAGE, {
    topic: t, key, maxNum: String(maxNum), beginTimestamp: '0', endTimestamp: '9223372036854775807',
  });
  const check = (ctx, m, i) => {
    assert.strictEqual(m.msgId, results[i].msgId, `${ctx}: msgId`);
    assert.strictEqual(m.topic, topic, `${ctx}: topic`);
    assert.strictEqual(m.body.toString('hex'), Buffer.from(sent[i].body).toString('hex'), `${ctx}: body`);
    assert.strictEqual(m.properties.TAGS, sent[i].tags, `${ctx}: TAGS`);
    assert.strictEqual(m.properties.KEYS, sent[i].keys.join(' '), `${ctx}: KEYS`);
    assert.strictEqual(m.queueId, results[i].queueId, `${ctx}: queueId`);
    assert.strictEqual(m.queueOffset, results[i].queueOffset, `${ctx}: queueOffset`);
    assert.strictEqual(m.storeHost, addr, `${ctx}: storeHost`);
  };

  // The index is built asynchronously: wait until the last message is found by key.
  await L.waitUntil('the last message to be indexed', 10000, async note => {
    const r = await query(topic, sent[N - 1].keys[0]);
    note(L.describeResponse(r));
    return r.code === 0;
  }, 200);

  for (let i = 0; i < N; i++) {
    for (const key of sent[i].keys.slice(0, 2)) {
      const r = await query(topic, key);
      assert.strictEqual(r.code, 0, `QUERY_MESSAGE ${topic} key ${key}: ${L.describeResponse(r)}`);
      assert.ok(r.extFields.indexLastUpdateTimestamp !== undefined && r.extFields.indexLastUpdatePhyoffset !== undefined,
        `QUERY_MESSAGE response header lacks indexLastUpdateTimestamp/indexLastUpdatePhyoffset: ${JSON.stringify(r.extFields)}`);
      const ms = L.R.decodeMessages(r.body);
      assert.strictEqual(ms.length, 1, `QUERY_MESSAGE key ${key} should find exactly 1 message, found ${ms.length}`);
      check(`QUERY_MESSAGE key ${key}`, ms[0], i);
    }
  }
  const all = await query(topic, shared);
  assert.strictEqual(all.code, 0, `QUERY_MESSAGE shared key: ${L.describeResponse(all)}`);
  const allMs = L.R.decodeMessages(all.body);
  assert.deepStrictEqual(allMs.map(m => m.msgId).sort(), results.map(r => r.msgId).sort(), 'QUERY_MESSAGE by the shared key');
  const two = await query(topic, shared, 2);
  assert.strictEqual(two.code, 0, `QUERY_MESSAGE maxNum 2: ${L.describeResponse(two)}`);
  const twoMs = L.R.decodeMessages(two.body);
  assert.ok(twoMs.length >= 1 && twoMs.length <= 2, `QUERY_MESSAGE with maxNum 2 returned ${twoMs.length} messages`);

  const none = await query(topic, `no-such-key-${L.env.runId}`);
  assert.strictEqual(none.code, L.R.Code.QUERY_NOT_FOUND, `QUERY_MESSAGE unknown key: ${L.describeResponse(none)}`);
  const cross = await query(topic, `only-other-${L.env.runId}`);
  assert.strictEqual(cross.code, L.R.Code.QUERY_NOT_FOUND, `QUERY_MESSAGE with another topic's key: ${L.describeResponse(cross)}`);
  const otherQ = await query(other, `only-other-${L.env.runId}`);
  assert.strictEqual(otherQ.code, 0, `QUERY_MESSAGE ${other}: ${L.describeResponse(otherQ)}`);
  assert.strictEqual(L.R.decodeMessages(otherQ.body)[0].body.toString(), 'other');
  log('QUERY_MESSAGE: every key finds its message; shared key finds all; unknown and cross-topic keys -> 22');

  // VIEW_MESSAGE_BY_ID
  for (let i = 0; i < N; i++) {
    const id = L.R.decodeMessageId(results[i].msgId);
    assert.strictEqual(id.address, addr, `msgId ${results[i].msgId} should name the broker ${addr}`);
    for (const ext of [ { offset: String(id.offset) }, { topic, offset: String(id.offset) } ]) {
      const r = await client.request(L.R.Code.VIEW_MESSAGE_BY_ID, ext);
      assert.strictEqual(r.code, 0, `VIEW_MESSAGE_BY_ID ${JSON.stringify(ext)}: ${L.describeResponse(r)}`);
      const ms = L.R.decodeMessages(r.body);
      assert.strictEqual(ms.length, 1, `VIEW_MESSAGE_BY_ID body should hold one message, holds ${ms.length}`);
      check(`VIEW_MESSAGE_BY_ID ${results[i].msgId}`, ms[0], i);
      assert.strictEqual(ms[0].commitLogOffset, id.offset);
      // ali-ons's decoder reads the same body the same way
      const bb = ByteBuffer.allocate(r.body.length);
      bb.put(r.body).flip();
      const theirs = MessageDecoder.decode(bb);
      assert.ok(theirs, 'ali-ons MessageDecoder could not decode the VIEW_MESSAGE_BY_ID body');
      assert.strictEqual(theirs.msgId, results[i].msgId, 'ali-ons decodes a different msgId');
      assert.strictEqual(Buffer.from(theirs.body).toString('hex'), Buffer.from(sent[i].body).toString('hex'));
    }
  }
  // An offset that is not the start of a message, and one past the end of the log.
  const first = L.R.decodeMessageId(results[0].msgId).offset;
  for (const bad of [ first + 1, 1 << 30 ]) {
    const r = await client.request(L.R.Code.VIEW_MESSAGE_BY_ID, { offset: String(bad) });
    if (r.code === 0) {
      // Java does not validate the offset; at the very least the bytes returned must be a real message there.
      let ms;
      try { ms = L.R.decodeMessages(r.body); } catch (err) {
        throw new Error(`VIEW_MESSAGE_BY_ID at offset ${bad} (not a message start) answered SUCCESS with bytes that are not a message: ${err.message}`);
      }
      assert.ok(ms.length === 1 && ms[0].commitLogOffset === bad,
        `VIEW_MESSAGE_BY_ID at offset ${bad} (not a message start) answered SUCCESS with ${ms.length} messages`);
    }
  }
  log('VIEW_MESSAGE_BY_ID: every msgId resolves to its message; bad offsets refused');
  client.close();
  await producer.close();
});
