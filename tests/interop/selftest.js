// Checks remoting.js against ali-ons's own encoder/decoder, with no server involved:
// request frames byte-equal to ali-ons's RemotingCommand.encode, frames decoded back, a hand-built
// stored-message record decoded by both remoting.js and ali-ons's MessageDecoder, message ids,
// Java hash codes, and the RemotingClient's framing over loopback (split frames, out-of-order
// replies by opaque, server-initiated requests set aside).
'use strict';

const assert = require('assert');
const net = require('net');
const zlib = require('zlib');
const ByteBuffer = require('byte');
const RemotingCommand = require('ali-ons/lib/protocol/command/remoting_command');
const MessageDecoder = require('ali-ons/lib/message/message_decoder');
const onsUtils = require('ali-ons/lib/utils');
const R = require('./remoting');

function checkEncoderMatchesAliOns() {
  const cases = [
    { code: 310, ext: { a: 'GID', b: 'T', c: 'TBW102', d: 4, e: 3, f: 0, g: 1700000000000, h: 0, i: 'TAGS\u0001A\u0002', j: 0, k: false }, body: Buffer.from('hi') },
    { code: 105, ext: { topic: 'TopicTest' }, body: null },
    { code: 34, ext: {}, body: Buffer.from('{"clientID":"x"}') },
  ];
  for (const c of cases) {
    const cmd = RemotingCommand.createRequestCommand(c.code, c.ext);
    if (c.body) cmd.body = c.body;
    const theirs = cmd.encode();
    const ours = R.encodeCommand({ code: c.code, opaque: cmd.opaque, extFields: c.ext, body: c.body });
    assert.deepStrictEqual(ours, theirs, `frame for code ${c.code} differs from ali-ons's encoding`);
    const back = R.decodeFrame(theirs.subarray(4));
    assert.strictEqual(back.code, c.code);
    assert.strictEqual(back.opaque, cmd.opaque);
    assert.strictEqual(back.serType, 0);
    assert.deepStrictEqual(back.extFields, c.ext);
    assert.deepStrictEqual(back.body, c.body || Buffer.alloc(0));
    // and ali-ons decodes ours
    const dec = RemotingCommand.decode(ours); // ali-ons decodes the frame with its length prefix
    assert.strictEqual(dec.code, c.code);
  }
}

// A V1 record built field by field from protocol.md §2.7.
function buildRecord({ queueId, queueOffset, physOffset, sysFlag, body, topic, props, reconsume, storeIp, storePort }) {
  const propBuf = Buffer.from(props, 'utf8');
  const topicBuf = Buffer.from(topic, 'utf8');
  const size = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + body.length + 1 + topicBuf.length + 2 + propBuf.length;
  const b = Buffer.alloc(size);
  let p = 0;
  p = b.writeInt32BE(size, p);
  p = b.writeInt32BE(R.MAGIC_V1, p);
  p = b.writeInt32BE((zlib.crc32(body) & 0x7fffffff) >>> 0, p);
  p = b.writeInt32BE(queueId, p);
  p = b.writeInt32BE(0, p); // flag
  p = b.writeBigInt64BE(BigInt(queueOffset), p);
  p = b.writeBigInt64BE(BigInt(physOffset), p);
  p = b.writeInt32BE(sysFlag, p);
  p = b.writeBigInt64BE(1700000000123n, p);
  p += Buffer.from([ 127, 0, 0, 1 ]).copy(b, p);
  p = b.writeInt32BE(54321, p);
  p = b.writeBigInt64BE(1700000000456n, p);
  p += Buffer.from(storeIp).copy(b, p);
  p = b.writeInt32BE(storePort, p);
  p = b.writeInt32BE(reconsume, p);
  p = b.writeBigInt64BE(0n, p);
  p = b.writeInt32BE(body.length, p);
  p += body.copy(b, p);
  p = b.writeUInt8(topicBuf.length, p);
  p += topicBuf.copy(b, p);
  p = b.writeInt16BE(propBuf.length, p);
  p += propBuf.copy(b, p);
  assert.strictEqual(p, size);
  return b;
}

function checkStoredMessageDecoder() {
  const plain = Buffer.from('hello \u00e9\u0000\u00ff', 'utf8');
  const big = Buffer.alloc(9000, 'x');
  const recs = [
    buildRecord({ queueId: 3, queueOffset: 7, physOffset: 0, sysFlag: 0, body: plain, topic: 'TopicA', props: 'TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002', reconsume: 0, storeIp: [ 127, 0, 0, 1 ], storePort: 10911 }),
    buildRecord({ queueId: 1, queueOffset: 8, physOffset: 5000000000, sysFlag: 1, body: zlib.deflateSync(big), topic: '%RETRY%G', props: 'RETRY_TOPIC\u0001TopicA', reconsume: 2, storeIp: [ 10, 1, 2, 3 ], storePort: 9876 }),
  ];
  const all = Buffer.concat(recs);
  const ours = R.decodeMessages(all);
  assert.strictEqual(ours.length, 2);
  const bb = ByteBuffer.allocate(all.length);
  bb.put(all).flip();
  const theirs = MessageDecoder.decodes(bb);
  assert.strictEqual(theirs.length, 2);
  for (let i = 0; i < 2; i++) {
    assert.strictEqual(ours[i].msgId, theirs[i].msgId, 'msgId');
    assert.deepStrictEqual(ours[i].body, theirs[i].body, 'body');
    assert.strictEqual(ours[i].topic, theirs[i].topic);
    assert.strictEqual(ours[i].queueId, theirs[i].queueId);
    assert.strictEqual(ours[i].queueOffset, theirs[i].queueOffset);
    assert.strictEqual(ours[i].commitLogOffset, theirs[i].commitLogOffset);
    assert.strictEqual(ours[i].reconsumeTimes, theirs[i].reconsumeTimes);
    assert.strictEqual(ours[i].storeHost, theirs[i].storeHost);
    assert.strictEqual(ours[i].bornHost, theirs[i].bornHost);
    const theirProps = Object.assign({}, theirs[i].properties);
    delete theirProps['']; // ali-ons's parser turns a trailing \x02 into an empty key
    for (const k of Object.keys(theirProps)) if (theirProps[k] == null) delete theirProps[k];
    assert.deepStrictEqual(ours[i].properties, theirProps);
  }
  assert.deepStrictEqual(ours[0].body, plain);
  assert.deepStrictEqual(ours[1].body, big);
  assert.strictEqual(ours[0].tags, 'TagA');
  assert.strictEqual(ours[0].keys, 'k1 k2');
  assert.strictEqual(ours[1].properties.RETRY_TOPIC, 'TopicA');
  // msgId round trip, and ali-ons's own decodeMessageId agrees
  const id = R.decodeMessageId(ours[1].msgId);
  assert.strictEqual(id.address, '10.1.2.3:9876');
  assert.strictEqual(id.offset, 5000000000);
  const theirsId = MessageDecoder.decodeMessageId(ours[1].msgId);
  assert.strictEqual(theirsId.address, id.address);
  assert.strictEqual(Number(theirsId.offset.toString()), id.offset);
  // corruption is detected, not decoded
  assert.throws(() => R.decodeMessages(Buffer.concat([ recs[0].subarray(0, 20) ])));
  const crcBad = Buffer.from(recs[0]);
  crcBad.writeInt32BE(12345, 8);
  assert.throws(() => R.decodeMessages(crcBad), /BODYCRC/);
}

function checkHashAndProperties() {
  for (const s of [ 'TagA', 'TagB', 'Aa', 'BB', '', 'null', '\u00e9t\u00e9', 'a-very-long-tag-name-0123456789' ]) {
    assert.strictEqual(R.javaHashCode(s), onsUtils.hashCode(s), `hash of ${JSON.stringify(s)}`);
  }
  assert.strictEqual(R.javaHashCode('Aa'), R.javaHashCode('BB'));
  assert.strictEqual(R.javaHashCode('TagA'), 2598919); // 84*31^3 + 97*31^2 + 103*31 + 65
  assert.deepStrictEqual(R.parseProperties('A\u00011\u0002B\u00012\u0002'), { A: '1', B: '2' });
  assert.deepStrictEqual(R.parseProperties('A\u00011\u0002B\u00012'), { A: '1', B: '2' });
}

async function checkClientFraming() {
  // A server that answers two requests in reverse order, splits every frame into 3-byte
  // chunks, and sends one server-initiated request in between.
  const server = net.createServer(sock => {
    let buf = Buffer.alloc(0);
    const got = [];
    sock.on('data', d => {
      buf = Buffer.concat([ buf, d ]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const total = buf.readInt32BE(0);
        got.push(R.decodeFrame(buf.subarray(4, 4 + total)));
        buf = buf.subarray(4 + total);
      }
      if (got.length === 2) {
        const frames = [
          R.encodeCommand({ code: 40, opaque: 999, extFields: { consumerGroup: 'G' } }),
          R.encodeCommand({ code: 0, opaque: got[1].opaque, flag: 1, extFields: { n: '2' }, body: Buffer.from('two') }),
          R.encodeCommand({ code: 22, opaque: got[0].opaque, flag: 1, remark: 'nope', extFields: {} }),
        ];
        const all = Buffer.concat(frames);
        for (let i = 0; i < all.length; i += 3) sock.write(all.subarray(i, i + 3));
      }
    });
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  const addr = `127.0.0.1:${server.address().port}`;
  const c = await R.RemotingClient.connect(addr);
  const [ a, b ] = await Promise.all([ c.request(12, { key: 'x' }), c.request(33, { offset: '0' }) ]);
  assert.strictEqual(a.code, 22);
  assert.strictEqual(a.remark, 'nope');
  assert.strictEqual(b.code, 0);
  assert.strictEqual(b.extFields.n, '2');
  assert.strictEqual(b.body.toString(), 'two');
  assert.strictEqual(c.serverRequests.length, 1);
  assert.strictEqual(c.serverRequests[0].code, 40);
  c.close();
  server.close();
}

(async () => {
  checkEncoderMatchesAliOns();
  checkStoredMessageDecoder();
  checkHashAndProperties();
  await checkClientFraming();
  console.log('selftest: remoting.js agrees with ali-ons 3.12.0 (frames, stored messages, msgIds, tag hashes, framing)');
})().catch(err => {
  console.error('selftest FAILED:', err && err.stack || err);
  process.exit(1);
});
