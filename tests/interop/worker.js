// One ali-ons client in its own process, driven by a scenario over Node's IPC channel.
//
//   role "producer": { cmd: 'send', id, messages: [{ topic, tags, noTags, keys, body(base64) }] }
//                    -> { type: 'sent', id, results: [{ msgId, queueId, brokerName, queueOffset, sendStatus }] }
//                       or { type: 'sent', id, error }
//   role "consumer": subscribes at start; reports { type: 'queues', queues } whenever its assigned
//                    queues change, and { type: 'msg', m, outcome } for each handler call, where
//                    outcome is 'ack' (handler returns), 'fail' (handler throws: keys in failKeys)
//                    or 'block' (ackLimit reached: the handler never returns).
//   both:            { cmd: 'close' } -> close() the client, { type: 'closed' }, exit 0.
//
// The worker exits when its parent goes away (IPC disconnect), so a killed scenario leaves no
// orphans. ali-ons's log goes to $STELE_LOG_DIR/<name>.log.
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');
const { Producer, Consumer, Message } = require('ali-ons');

const cfg = JSON.parse(process.argv[2]);
const logFile = path.join(process.env.STELE_LOG_DIR || '.', `${cfg.name}.log`);

function log(level, args) {
  const line = `${new Date().toISOString()} ${level} ${util.format(...args)}\n`;
  try { fs.appendFileSync(logFile, line); } catch (_) { /* ignore */ }
}
const logger = {
  info: (...a) => log('INFO', a),
  warn: (...a) => log('WARN', a),
  error: (...a) => log('ERROR', a),
  debug: (...a) => { if (process.env.STELE_INTEROP_DEBUG) log('DEBUG', a); },
};

function send(obj) {
  if (process.connected) process.send(obj);
}

function report(kind, err) {
  const message = err && err.stack ? err.stack : String(err);
  log('ERROR', [ kind, message ]);
  const code = err && err.code !== undefined ? ` [code ${err.code}]` : '';
  send({ type: 'error', kind, message: `${err && err.name || 'Error'}${code}: ${err && err.message || err}` });
}

process.on('disconnect', () => process.exit(3));
process.on('uncaughtException', err => { report('uncaughtException', err); setTimeout(() => process.exit(1), 50); });
process.on('unhandledRejection', err => { report('unhandledRejection', err); });

const baseOptions = {
  nameSrv: cfg.namesrv,
  httpclient: {}, // required by ali-ons's constructor even with nameSrv set
  logger,
  // Short timers so route changes and rebalances show up within about a second.
  pollNameServerInteval: 1000,
  heartbeatBrokerInterval: 5000,
  rebalanceInterval: 1000,
  persistConsumerOffsetInterval: 1000,
};

function describe(msg, mq) {
  return {
    msgId: msg.msgId,
    topic: msg.topic,
    tags: msg.tags === undefined ? null : msg.tags,
    keys: msg.keys === undefined ? null : msg.keys,
    body: msg.body ? Buffer.from(msg.body).toString('base64') : '',
    reconsumeTimes: msg.reconsumeTimes,
    queueId: msg.queueId,
    queueOffset: msg.queueOffset,
    commitLogOffset: msg.commitLogOffset,
    storeHost: msg.storeHost,
    bornHost: msg.bornHost,
    bornTimestamp: msg.bornTimestamp,
    storeTimestamp: msg.storeTimestamp,
    sysFlag: msg.sysFlag,
    properties: msg.properties,
    brokerName: mq ? mq.brokerName : null,
    at: Date.now(),
  };
}

async function runProducer() {
  const producer = new Producer(Object.assign({}, baseOptions, { producerGroup: cfg.group }));
  producer.on('error', err => report('producer', err));
  await producer.ready();
  process.on('message', async cmd => {
    if (cmd.cmd === 'send') {
      const results = [];
      try {
        for (const spec of cmd.messages) {
          const body = Buffer.from(spec.body, 'base64');
          const msg = spec.noTags ? new Message(spec.topic, body) : new Message(spec.topic, spec.tags, body);
          if (spec.noTags) delete msg.properties.TAGS; // no TAGS property at all
          if (spec.keys) msg.keys = spec.keys;
          const r = await producer.send(msg);
          results.push({
            msgId: r.msgId,
            queueId: Number(r.messageQueue.queueId),
            brokerName: r.messageQueue.brokerName,
            queueOffset: r.queueOffset,
            sendStatus: r.sendStatus,
          });
        }
        send({ type: 'sent', id: cmd.id, results });
      } catch (err) {
        log('ERROR', [ 'send failed', err.stack ]);
        send({ type: 'sent', id: cmd.id, results, error: `${err.name}: ${err.message} (code ${err.code})` });
      }
    } else if (cmd.cmd === 'close') {
      await closeAndExit(() => producer.close());
    }
  });
  send({ type: 'ready' });
}

async function closeAndExit(closeFn) {
  let error = null;
  try {
    await Promise.race([
      closeFn(),
      new Promise((_, rej) => setTimeout(() => rej(new Error('close() did not finish in 15 s')), 15000)),
    ]);
  } catch (err) {
    error = `${err.name}: ${err.message}`;
    log('ERROR', [ 'close failed', err.stack ]);
  }
  process.send({ type: 'closed', error }, () => process.exit(0));
}

async function runConsumer() {
  const options = Object.assign({}, baseOptions, {
    consumerGroup: cfg.group,
    isBroadcast: !!cfg.broadcast,
    consumeFromWhere: cfg.consumeFromWhere || 'CONSUME_FROM_FIRST_OFFSET',
  });
  if (cfg.maxReconsumeTimes !== undefined) options.maxReconsumeTimes = cfg.maxReconsumeTimes;
  if (cfg.instanceName) options.instanceName = cfg.instanceName;
  const consumer = new Consumer(options);
  consumer.on('error', err => report('consumer', err));

  const failKeys = new Set(cfg.failKeys || []);
  let acked = 0;
  for (const sub of cfg.subscriptions) {
    consumer.subscribe(sub.topic, sub.expression, async (msg, mq) => {
      const m = describe(msg, mq);
      const keys = (msg.keys || '').split(' ').filter(Boolean);
      if (keys.some(k => failKeys.has(k))) {
        send({ type: 'msg', m, outcome: 'fail' });
        throw new Error(`interop test: handler fails for keys ${msg.keys}`);
      }
      if (cfg.ackLimit !== undefined && acked >= cfg.ackLimit) {
        send({ type: 'msg', m, outcome: 'block' });
        await new Promise(() => {}); // never returns: this message stays in flight
      }
      acked++;
      send({ type: 'msg', m, outcome: 'ack' });
    });
  }
  await consumer.ready();

  let last = '';
  const timer = setInterval(() => {
    const queues = [];
    for (const item of consumer.processQueueTable.values()) {
      const mq = item.messageQueue;
      queues.push({ topic: mq.topic, brokerName: mq.brokerName, queueId: Number(mq.queueId) });
    }
    queues.sort((a, b) => (a.topic + a.brokerName).localeCompare(b.topic + b.brokerName) || a.queueId - b.queueId);
    const s = JSON.stringify(queues);
    if (s !== last) {
      last = s;
      send({ type: 'queues', queues });
    }
  }, 100);

  process.on('message', async cmd => {
    if (cmd.cmd === 'close') {
      clearInterval(timer);
      await closeAndExit(() => consumer.close());
    }
  });
  send({ type: 'ready', clientId: consumer._mqClient.clientId });
}

(cfg.role === 'producer' ? runProducer() : runConsumer()).catch(err => {
  report('startup', err);
  setTimeout(() => process.exit(1), 50);
});
