// A tiny RocketMQ remoting client for the interop tests: frame encode/decode with a JSON header
// (protocol.md §1), request/response matched by opaque, the stored-message decoder (§2.7), the
// properties string (§2.6) and the offset message id. It is written from the protocol, not from
// ali-ons, so the tests can check what ali-ons does not expose (QUERY_MESSAGE, VIEW_MESSAGE_BY_ID,
// raw pulls) and cross-check what ali-ons decodes. selftest.js compares it with ali-ons's encoder.
'use strict';

const net = require('net');
const zlib = require('zlib');

const Code = Object.freeze({
  // requests
  SEND_MESSAGE_V2: 310,
  PULL_MESSAGE: 11,
  QUERY_MESSAGE: 12,
  QUERY_CONSUMER_OFFSET: 14,
  UPDATE_CONSUMER_OFFSET: 15,
  UPDATE_AND_CREATE_TOPIC: 17,
  GET_MAX_OFFSET: 30,
  GET_MIN_OFFSET: 31,
  VIEW_MESSAGE_BY_ID: 33,
  HEART_BEAT: 34,
  GET_CONSUMER_LIST_BY_GROUP: 38,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  // responses
  SUCCESS: 0,
  SYSTEM_ERROR: 1,
  TOPIC_NOT_EXIST: 17,
  PULL_NOT_FOUND: 19,
  PULL_RETRY_IMMEDIATELY: 20,
  PULL_OFFSET_MOVED: 21,
  QUERY_NOT_FOUND: 22,
});

const FLAG_RESPONSE = 1;
const FLAG_ONEWAY = 2;
const MAX_FRAME = 16 * 1024 * 1024;

// ---- frames --------------------------------------------------------------------------------

// Encodes one command with a JSON header (serialize type 0), as a Java client does by default.
// extFields values are sent as given (strings like Java; a caller may pass numbers/booleans to
// mimic ali-ons). Keys with null/undefined values are dropped.
function encodeCommand(cmd) {
  const ext = {};
  for (const [k, v] of Object.entries(cmd.extFields || {})) {
    if (v !== null && v !== undefined) ext[k] = v;
  }
  // Same key order as ali-ons (RemotingCommand.buildHeader); JSON.stringify drops an undefined remark.
  const header = {
    code: cmd.code,
    language: cmd.language || 'JAVA',
    opaque: cmd.opaque,
    flag: cmd.flag || 0,
    version: cmd.version === undefined ? 121 : cmd.version,
    remark: cmd.remark === null ? undefined : cmd.remark,
    extFields: ext,
  };
  const headerBuf = Buffer.from(JSON.stringify(header), 'utf8');
  const body = cmd.body ? Buffer.from(cmd.body) : Buffer.alloc(0);
  const out = Buffer.alloc(8 + headerBuf.length + body.length);
  out.writeInt32BE(4 + headerBuf.length + body.length, 0);
  out.writeInt32BE(headerBuf.length & 0xffffff, 4); // serialize type 0 (JSON) in the top byte
  headerBuf.copy(out, 8);
  body.copy(out, 8 + headerBuf.length);
  return out;
}

// Decodes one frame *without* its 4-byte length prefix. Returns the command with serType,
// header fields, extFields (values as received), and body (Buffer, possibly empty).
function decodeFrame(frame) {
  if (frame.length < 4) throw new Error(`frame too short: ${frame.length} bytes`);
  const word = frame.readUInt32BE(0);
  const serType = word >>> 24;
  const hdrLen = word & 0xffffff;
  if (4 + hdrLen > frame.length) {
    throw new Error(`header length ${hdrLen} exceeds frame of ${frame.length} bytes`);
  }
  const hdrBuf = frame.subarray(4, 4 + hdrLen);
  let header;
  if (serType === 0) {
    header = JSON.parse(hdrBuf.toString('utf8'));
  } else if (serType === 1) {
    header = decodeBinaryHeader(hdrBuf);
  } else {
    throw new Error(`unknown serialize type ${serType}`);
  }
  return {
    serType,
    code: header.code,
    language: header.language,
    version: header.version,
    opaque: header.opaque,
    flag: header.flag || 0,
    remark: header.remark,
    extFields: header.extFields || {},
    rawHeader: header,
    body: Buffer.from(frame.subarray(4 + hdrLen)),
  };
}

// ROCKETMQ binary header (protocol.md §1.2); only used if a server answers in it.
function decodeBinaryHeader(b) {
  let p = 0;
  const code = b.readInt16BE(p); p += 2;
  const language = b.readInt8(p); p += 1;
  const version = b.readInt16BE(p); p += 2;
  const opaque = b.readInt32BE(p); p += 4;
  const flag = b.readInt32BE(p); p += 4;
  const remarkLen = b.readInt32BE(p); p += 4;
  const remark = remarkLen > 0 ? b.toString('utf8', p, p + remarkLen) : undefined; p += Math.max(remarkLen, 0);
  const extLen = b.readInt32BE(p); p += 4;
  const end = p + extLen;
  const extFields = {};
  while (p < end) {
    const kl = b.readInt16BE(p); p += 2;
    const k = b.toString('utf8', p, p + kl); p += kl;
    const vl = b.readInt32BE(p); p += 4;
    extFields[k] = b.toString('utf8', p, p + vl); p += vl;
  }
  return { code, language, version, opaque, flag, remark, extFields };
}

// ---- client --------------------------------------------------------------------------------

class RemotingClient {
  constructor(addr) {
    this.addr = addr;
    this.socket = null;
    this.pending = new Map();
    this.nextOpaque = 1;
    this.closed = false;
    this.serverRequests = []; // requests the server sent us (e.g. NOTIFY_CONSUMER_IDS_CHANGED)
  }

  static async connect(addr, timeoutMs = 5000) {
    const c = new RemotingClient(addr);
    await c._connect(timeoutMs);
    return c;
  }

  _connect(timeoutMs) {
    const [host, port] = splitAddr(this.addr);
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect to ${this.addr} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.setNoDelay(true);
        this.socket = sock;
        resolve();
      });
      sock.once('error', err => {
        clearTimeout(timer);
        this._failAll(err);
        reject(err);
      });
      sock.on('data', d => this._onData(d));
      sock.on('close', () => {
        this.closed = true;
        this._failAll(new Error(`connection to ${this.addr} closed`));
      });
    });
  }

  _failAll(err) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  // Chunks are kept in a list and joined only once a whole frame is there, so a multi-MiB frame
  // arriving in 64 KiB pieces costs one copy, not one per piece.
  _onData(d) {
    this.chunks = this.chunks || [];
    this.chunks.push(d);
    this.buffered = (this.buffered || 0) + d.length;
    for (;;) {
      if (this.buffered < 4) return;
      if (this.chunks[0].length < 4) this._join();
      const total = this.chunks[0].readInt32BE(0);
      if (total < 4 || total > MAX_FRAME) {
        this._failAll(new Error(`bad frame length ${total} from ${this.addr}`));
        this.socket.destroy();
        return;
      }
      if (this.buffered < 4 + total) return;
      const all = this._join();
      const frame = all.subarray(4, 4 + total);
      const rest = all.subarray(4 + total);
      this.chunks = rest.length ? [ rest ] : [];
      this.buffered = rest.length;
      this._onFrame(frame);
    }
  }

  _join() {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [ all ];
    return all;
  }

  _onFrame(frame) {
    let cmd;
    try {
      cmd = decodeFrame(frame);
    } catch (err) {
      this._failAll(new Error(`undecodable frame from ${this.addr}: ${err.message}`));
      this.socket.destroy();
      return;
    }
    if (cmd.flag & FLAG_RESPONSE) {
      const p = this.pending.get(cmd.opaque);
      if (p) {
        this.pending.delete(cmd.opaque);
        clearTimeout(p.timer);
        p.resolve(cmd);
      }
    } else {
      this.serverRequests.push(cmd);
    }
  }

  // Sends a request and resolves with the decoded response (any code). Rejects on timeout or close.
  request(code, extFields, body, timeoutMs = 5000) {
    if (this.closed || !this.socket) return Promise.reject(new Error(`connection to ${this.addr} is closed`));
    const opaque = this.nextOpaque++;
    const frame = encodeCommand({ code, opaque, extFields, body });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(opaque);
        reject(new Error(`request code ${code} to ${this.addr} timed out after ${timeoutMs} ms ` +
          `(extFields ${JSON.stringify(extFields)})`));
      }, timeoutMs);
      this.pending.set(opaque, { resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  close() {
    if (this.socket && !this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
  }
}

function splitAddr(addr) {
  const i = addr.lastIndexOf(':');
  return [ addr.slice(0, i), Number(addr.slice(i + 1)) ];
}

// One request on a fresh connection.
async function requestOnce(addr, code, extFields, body, timeoutMs = 5000) {
  const c = await RemotingClient.connect(addr, timeoutMs);
  try {
    return await c.request(code, extFields, body, timeoutMs);
  } finally {
    c.close();
  }
}

// ---- stored messages (protocol.md §2.7) -------------------------------------------------------

const MAGIC_V1 = 0xdaa320a7 | 0;
const MAGIC_V2 = 0xdaa320ab | 0;
const SYSFLAG_COMPRESSED = 0x1;
const SYSFLAG_BORNHOST_V6 = 0x10;
const SYSFLAG_STOREHOST_V6 = 0x20;

function hostString(ip, port) {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}:${port}`;
  const parts = [];
  for (let i = 0; i < 16; i += 2) parts.push(ip.readUInt16BE(i).toString(16));
  return `[${parts.join(':')}]:${port}`;
}

// The offset message id: hex(storeHost ip + int32 port + int64 commitLogOffset), uppercase.
function createMessageId(ipBytes, port, commitLogOffset) {
  const b = Buffer.alloc(ipBytes.length + 4 + 8);
  ipBytes.copy(b, 0);
  b.writeInt32BE(port, ipBytes.length);
  b.writeBigInt64BE(BigInt(commitLogOffset), ipBytes.length + 4);
  return b.toString('hex').toUpperCase();
}

function decodeMessageId(msgId) {
  if (!/^[0-9A-Fa-f]+$/.test(msgId) || (msgId.length !== 32 && msgId.length !== 56)) {
    throw new Error(`not an offset message id: ${msgId}`);
  }
  const b = Buffer.from(msgId, 'hex');
  const ipLen = b.length - 12;
  const ip = b.subarray(0, ipLen);
  const port = b.readInt32BE(ipLen);
  const offset = b.readBigInt64BE(ipLen + 4);
  return { address: hostString(ip, port), ip, port, offset: Number(offset) };
}

function parseProperties(s) {
  const props = {};
  if (!s) return props;
  for (const item of s.split('\u0002')) {
    if (!item) continue;
    const i = item.indexOf('\u0001');
    if (i < 0) throw new Error(`property without a name/value separator: ${JSON.stringify(item)}`);
    props[item.slice(0, i)] = item.slice(i + 1);
  }
  return props;
}

function bodyCrc(body) {
  return (zlib.crc32(body) & 0x7fffffff) >>> 0;
}

// Decodes every stored message in `buf` (records end to end). Strict: a record that does not
// parse, whose TOTALSIZE disagrees with its fields, or whose BODYCRC is wrong throws with the
// record's position. Bodies flagged COMPRESSED are inflated into `body` (raw bytes in `rawBody`).
function decodeMessages(buf) {
  const out = [];
  let p = 0;
  while (p < buf.length) {
    const start = p;
    const where = () => `record #${out.length} at byte ${start} of ${buf.length}`;
    if (buf.length - p < 4) throw new Error(`${where()}: ${buf.length - p} trailing bytes`);
    const totalSize = buf.readInt32BE(p);
    if (totalSize <= 0 || start + totalSize > buf.length) {
      throw new Error(`${where()}: TOTALSIZE ${totalSize} runs past the buffer`);
    }
    const r = buf.subarray(start, start + totalSize);
    let q = 4;
    const need = n => {
      if (q + n > r.length) throw new Error(`${where()}: truncated (needs ${q + n} > TOTALSIZE ${r.length})`);
    };
    const i32 = () => { need(4); const v = r.readInt32BE(q); q += 4; return v; };
    const i64 = () => { need(8); const v = r.readBigInt64BE(q); q += 8; return Number(v); };
    const bytes = n => { need(n); const v = Buffer.from(r.subarray(q, q + n)); q += n; return v; };
    const m = { storeSize: totalSize };
    m.magic = i32();
    if (m.magic !== MAGIC_V1 && m.magic !== MAGIC_V2) {
      throw new Error(`${where()}: bad MAGICCODE 0x${(m.magic >>> 0).toString(16)}`);
    }
    m.bodyCRC = i32();
    m.queueId = i32();
    m.flag = i32();
    m.queueOffset = i64();
    m.commitLogOffset = i64();
    m.sysFlag = i32();
    m.bornTimestamp = i64();
    const bornIp = bytes(m.sysFlag & SYSFLAG_BORNHOST_V6 ? 16 : 4);
    m.bornHost = hostString(bornIp, i32());
    m.storeTimestamp = i64();
    const storeIp = bytes(m.sysFlag & SYSFLAG_STOREHOST_V6 ? 16 : 4);
    const storePort = i32();
    m.storeHost = hostString(storeIp, storePort);
    m.reconsumeTimes = i32();
    m.preparedTransactionOffset = i64();
    const bodyLen = i32();
    if (bodyLen < 0) throw new Error(`${where()}: negative BODYLENGTH ${bodyLen}`);
    m.rawBody = bytes(bodyLen);
    if ((bodyCrc(m.rawBody) | 0) !== (m.bodyCRC | 0)) {
      throw new Error(`${where()}: BODYCRC ${m.bodyCRC} != crc32(body) & 0x7fffffff = ${bodyCrc(m.rawBody)}`);
    }
    m.body = m.sysFlag & SYSFLAG_COMPRESSED ? zlib.inflateSync(m.rawBody) : m.rawBody;
    let topicLen;
    if (m.magic === MAGIC_V2) { need(2); topicLen = r.readInt16BE(q); q += 2; } else { need(1); topicLen = r.readUInt8(q); q += 1; }
    m.topic = bytes(topicLen).toString('utf8');
    need(2);
    const propLen = r.readInt16BE(q); q += 2;
    m.propertiesString = bytes(propLen).toString('utf8');
    m.properties = parseProperties(m.propertiesString);
    if (q !== r.length) throw new Error(`${where()}: fields end at ${q} but TOTALSIZE is ${r.length}`);
    m.msgId = createMessageId(storeIp, storePort, m.commitLogOffset);
    m.tags = m.properties.TAGS;
    m.keys = m.properties.KEYS;
    out.push(m);
    p = start + totalSize;
  }
  return out;
}

// Java String.hashCode (the consume queue's tag code).
function javaHashCode(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

module.exports = {
  Code,
  FLAG_RESPONSE,
  FLAG_ONEWAY,
  encodeCommand,
  decodeFrame,
  RemotingClient,
  requestOnce,
  decodeMessages,
  parseProperties,
  createMessageId,
  decodeMessageId,
  javaHashCode,
  MAGIC_V1,
  MAGIC_V2,
};
