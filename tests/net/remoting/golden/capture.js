// Regenerates the golden remoting frames in this directory (see README.md).
//
//   NODE_PATH=/tmp/npmtest/node_modules node tests/net/remoting/golden/capture.js
//
// 1. Captured from a real ali-ons 3.12.0 client: a plain TCP server on 127.0.0.1 plays name
//    server and broker. A Producer sends to a topic (GET_ROUTEINFO_BY_TOPIC -> route_request.bin);
//    the server answers with a route that points at itself, so the producer then sends
//    SEND_MESSAGE_V2 (send_captured.bin) and a HEART_BEAT (heartbeat_captured.bin). These
//    contain this machine's IP, the PID and timestamps, so tests only check their stable parts.
// 2. Hand-made with ali-ons's own encoder (RemotingCommand.encode), with fixed values so the
//    tests can compare every field: send_v2.bin, heartbeat.bin, pull.bin, update_offset.bin.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');

const ons = require('ali-ons');
const RemotingCommand = require('ali-ons/lib/protocol/command/remoting_command');

const outDir = __dirname;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function write(name, buf) {
  fs.writeFileSync(path.join(outDir, name), buf);
  console.log(`${name}: ${buf.length} bytes`);
}

// ---- 2. hand-made frames (ali-ons's encoder, fixed values) ----
function handMade() {
  // SEND_MESSAGE_V2 exactly as MQClientAPI.sendMessage builds it; `l` (maxReconsumeTimes) is
  // undefined for non-retry topics and is dropped by makeCustomHeaderToNet.
  const send = RemotingCommand.createRequestCommand(310, {
    a: 'GID_golden', b: 'TopicTest', c: 'TBW102', d: 4, e: 3, f: 0, g: 1700000000000, h: 0,
    i: 'UNIQ_KEY\u0001ABC\u0002WAIT\u0001true\u0002TAGS\u0001TagA\u0002', j: 0, k: false,
    l: undefined,
  });
  send.opaque = 7;
  send.body = Buffer.from([0x68, 0x69, 0x00, 0x01, 0xff, 0x00, 0x7f]);
  write('send_v2.bin', send.encode());

  const hb = RemotingCommand.createRequestCommand(34, null);
  hb.opaque = 8;
  hb.body = Buffer.from(JSON.stringify({
    clientID: '192.168.1.5@4242',
    consumerDataSet: [{
      groupName: 'GID_x', consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING',
      consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', unitMode: false,
      subscriptionDataSet: [
        { topic: 'TopicTest', subString: 'TagA', classFilterMode: false, tagsSet: ['TagA'],
          codeSet: [2598969], subVersion: 1700000000000 },
        { topic: '%RETRY%GID_x', subString: '*', classFilterMode: false, tagsSet: [],
          codeSet: [], subVersion: 1700000000001 },
      ],
    }],
    producerDataSet: [{ groupName: 'GID_p' }],
  }));
  write('heartbeat.bin', hb.encode());

  // PULL_MESSAGE as MQPushConsumer.pullKernelImpl builds it (subscription null: dropped).
  const pull = RemotingCommand.createRequestCommand(11, {
    consumerGroup: 'GID_x', topic: 'TopicTest', queueId: 2, queueOffset: 1234567890123,
    maxMsgNums: 32, sysFlag: 3, commitOffset: 1234567890000, suspendTimeoutMillis: 15000,
    subscription: null, subVersion: 1700000000000,
  });
  pull.opaque = 9;
  write('pull.bin', pull.encode());

  // UPDATE_CONSUMER_OFFSET: "oneway" in ali-ons, but the ONEWAY flag is never set.
  const upd = RemotingCommand.createRequestCommand(15, {
    topic: 'TopicTest', consumerGroup: 'GID_x', queueId: 0, commitOffset: 42,
  });
  upd.opaque = 10;
  write('update_offset.bin', upd.encode());
}

// ---- 1. frames captured from a real client ----
function capture() {
  return new Promise((resolve, reject) => {
    const wanted = new Map([[105, 'route_request.bin'], [310, 'send_captured.bin'],
      [34, 'heartbeat_captured.bin']]);
    let port = 0;
    const timer = setTimeout(() => reject(new Error(`timed out; missing ${[...wanted.values()]}`)),
      20000);

    function reply(sock, req, code, ext, body) {
      const resp = RemotingCommand.createResponseCommand(code, req.opaque, 'golden');
      resp.extFields = ext || {};
      if (body) resp.body = Buffer.from(body);
      sock.write(resp.encode());
    }
    function onFrame(sock, frame) {
      const req = RemotingCommand.decode(frame);
      if (wanted.has(req.code)) {
        write(wanted.get(req.code), frame);
        wanted.delete(req.code);
      }
      if (req.code === 105) {
        reply(sock, req, 0, {}, JSON.stringify({
          queueDatas: [{ brokerName: 'broker-a', readQueueNums: 4, writeQueueNums: 4, perm: 6,
            topicSysFlag: 0 }],
          brokerDatas: [{ cluster: 'DefaultCluster', brokerName: 'broker-a',
            brokerAddrs: { 0: `127.0.0.1:${port}` } }],
          filterServerTable: {},
        }));
      } else if (req.code === 310) {
        reply(sock, req, 0, { msgId: '7F00000100002A9F0000000000000000', queueId: '0',
          queueOffset: '0' });
      } else {
        reply(sock, req, 0);
      }
      if (wanted.size === 0) {
        clearTimeout(timer);
        resolve();
      }
    }

    const server = net.createServer(sock => {
      let buf = Buffer.alloc(0);
      sock.on('error', () => {});
      sock.on('data', d => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
          const n = 4 + buf.readInt32BE(0);
          onFrame(sock, buf.subarray(0, n));
          buf = buf.subarray(n);
        }
      });
    });
    server.listen(0, '127.0.0.1', async () => {
      port = server.address().port;
      const producer = new ons.Producer({
        producerGroup: 'GID_golden', nameSrv: `127.0.0.1:${port}`, httpclient: {},
        logger: quiet, heartbeatBrokerInterval: 100,
      });
      producer.on('error', () => {});
      try {
        const msg = new ons.Message('TopicTest', 'TagA', Buffer.from('hello golden'));
        await producer.send(msg);
      } catch (err) {
        reject(err);
      }
    });
  });
}

handMade();
capture().then(() => process.exit(0), err => {
  console.error(err);
  process.exit(1);
});
