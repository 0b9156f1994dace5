// (f) Bad input (the broker runs with autoCreateTopicEnable=false and maxMessageSize from run.sh):
//   * Producer.send to a topic that does not exist throws NotFoundException with code
//     TOPIC_NOT_FOUND (40402), and a SimpleConsumer for it fails its startup;
//   * a body of maxMessageSize + 1 bytes is refused through the client (by the client itself when
//     the server's Settings advertise max_body_size, else by the server with a 413xx code);
//   * the same message sent with a raw SendMessage RPC (the client's generated stub, so the
//     client's own check is bypassed) is refused by the server with PAYLOAD_TOO_LARGE /
//     MESSAGE_BODY_TOO_LARGE (or a gRPC RESOURCE_EXHAUSTED from the transport);
//   * afterwards the broker still takes and delivers a normal message.
'use strict';

const assert = require('assert');
const grpc = require('@grpc/grpc-js');
const { randomUUID } = require('crypto');
const { MessagingServiceClient } = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_grpc_pb');
const S = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_pb');
const D = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb');
const L = require('./lib');

function rawSend(topic, body) {
  const client = new MessagingServiceClient(L.env.grpc, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('x-mq-protocol', 'v2');
  md.set('x-mq-client-id', `stele-f@${process.pid}@0@raw`);
  md.set('x-mq-request-id', randomUUID());
  md.set('x-mq-language', 'HTTP');
  md.set('x-mq-client-version', '1.0.8');
  md.set('x-mq-date-time', new Date().toISOString().split('.')[0].replace(/[-:]/g, '') + 'Z');
  const sys = new D.SystemProperties()
    .setMessageId(`01${randomUUID().replace(/-/g, '').slice(0, 32).toUpperCase()}`)
    .setBodyEncoding(D.Encoding.IDENTITY).setMessageType(D.MessageType.NORMAL).setBornHost('f')
    .setQueueId(0);
  const msg = new D.Message().setTopic(new D.Resource().setName(topic)).setBody(body).setSystemProperties(sys);
  const req = new S.SendMessageRequest();
  req.addMessages(msg); // (returns the message, not the request)
  return new Promise(resolve => {
    client.sendMessage(req, md, { deadline: Date.now() + 10000 }, (err, res) => {
      client.close();
      resolve({ err, res });
    });
  });
}

L.scenario('f_bad_input', async ({ log }) => {
  // Unknown topic.
  const ghost = `GF_NOPE_${L.env.runId}`;
  const producer = await L.startProducer('f-producer', []);
  let err = await producer.send({ topic: ghost, body: Buffer.from('x') }).then(() => null, e => e);
  assert.ok(err, 'send to an unknown topic succeeded');
  assert.strictEqual(err.code, L.Code.TOPIC_NOT_FOUND, `unknown topic: ${err.name}: ${err.message}`);
  assert.strictEqual(err.name, 'NotFoundException');
  log(`send to unknown topic: ${err.name} code ${err.code}`);
  err = await L.startConsumer('f-consumer-ghost', `GID_GF_${L.env.runId}`, ghost).then(() => null, e => e);
  assert.ok(err, 'a SimpleConsumer of an unknown topic started');
  log(`consumer of unknown topic: startup failed (${String(err.message).slice(0, 120)})`);

  // Oversized body through the client.
  const topic = `GF_${L.env.runId}`;
  await L.createTopic(topic, 2);
  const big = Buffer.alloc(L.env.maxMessageSize + 1, 'b');
  const p2 = await L.startProducer('f-producer-2', [ topic ]);
  err = await p2.send({ topic, body: big }).then(() => null, e => e);
  assert.ok(err, `a ${big.length}-byte body was accepted`);
  const serverSide = err.code === L.Code.MESSAGE_BODY_TOO_LARGE || err.code === L.Code.PAYLOAD_TOO_LARGE;
  assert.ok(serverSide || /exceeds the threshold/.test(err.message), `oversized body: ${err.name}: ${err.message}`);
  log(`oversized body via the client: refused by the ${serverSide ? `server (code ${err.code})` : 'client (server-advertised max_body_size)'}`);

  // Oversized body straight to the server.
  const { err: gerr, res } = await rawSend(topic, big);
  if (gerr) {
    assert.strictEqual(gerr.code, grpc.status.RESOURCE_EXHAUSTED, `raw oversized send: gRPC error ${gerr.code} ${gerr.details}`);
    log(`raw oversized send: gRPC RESOURCE_EXHAUSTED (${gerr.details})`);
  } else {
    const o = res.toObject();
    const codes = [ o.status && o.status.code, ...o.entriesList.map(e => e.status && e.status.code) ];
    assert.ok(codes.some(c => c === L.Code.MESSAGE_BODY_TOO_LARGE || c === L.Code.PAYLOAD_TOO_LARGE),
      `raw oversized send answered ${JSON.stringify(o)}`);
    log(`raw oversized send: status codes ${codes.join(', ')}`);
  }

  // Still healthy.
  const ok = await p2.send({ topic, body: Buffer.from('after the bad ones'), tag: 'T' });
  const consumer = await L.startConsumer('f-consumer', `GID_GF_${L.env.runId}`, topic);
  const got = await L.receiveN(consumer, 1, { timeoutMs: 30000 });
  assert.strictEqual(got[0].messageId, ok.messageId);
  assert.strictEqual(got[0].body.toString(), 'after the bad ones');
  log('a normal message still goes through');
  await L.shutdown(consumer);
  await L.shutdown(p2);
  await L.shutdown(producer);
});
