#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ from the golden remoting frames
(tests/net/remoting/golden/*.bin) plus a few hand-made inputs. Deterministic; rerun after the
golden frames change:  python3 tests/fuzz/make_seeds.py
"""
import hashlib
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "net", "remoting", "golden")
CORPUS = os.path.join(HERE, "corpus")
LANGS = ["JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO",
         "PHP", "OMS", "RUST", "NODE_JS"]


def put(target, data, name=None):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame(ser_type, header, body=b""):
    return struct.pack(">iI", 4 + len(header) + len(body), (ser_type << 24) | len(header)) + \
        header + body


def binary_header(code, lang, version, opaque, flag, remark, ext):
    """ROCKETMQ serialization (Java RocketMQSerializable): see codec.h."""
    r = remark.encode() if remark else b""
    e = b"".join(struct.pack(">h", len(k.encode())) + k.encode() +
                 struct.pack(">i", len(v.encode())) + v.encode() for k, v in ext.items())
    return struct.pack(">hbhii", code, lang, version, opaque, flag) + \
        struct.pack(">i", len(r)) + r + struct.pack(">i", len(e)) + e


def json_text(v):
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def main():
    goldens = sorted(f for f in os.listdir(GOLDEN) if f.endswith(".bin"))
    frames = []
    for g in goldens:
        with open(os.path.join(GOLDEN, g), "rb") as f:
            data = f.read()
        frames.append(data)
        put("fuzz_frame", data, g)
        hlen = struct.unpack(">I", data[4:8])[0] & 0xFFFFFF
        header, body = data[8:8 + hlen], data[8 + hlen:]
        put("fuzz_json_header", header, g)
        h = json.loads(header)
        ext = {k: json_text(v) for k, v in h.get("extFields", {}).items()}
        bh = binary_header(h["code"], LANGS.index(h["language"]), h["version"], h["opaque"],
                           h["flag"], h.get("remark"), ext)
        put("fuzz_binary_header", bh, g)
        put("fuzz_frame", frame(1, bh, body), "binary_" + g)
        if h["code"] == 34:
            put("fuzz_json_body", b"\x00" + body, "heartbeat_" + g)
    put("fuzz_frame", b"".join(frames), "all_goldens_back_to_back")
    # A response with a remark, both serializations.
    resp = {"code": 17, "language": "CPP", "version": 401, "opaque": 5, "flag": 1,
            "remark": "No topic route info in name server for the topic: T",
            "extFields": {}, "serializeTypeCurrentRPC": "JSON"}
    put("fuzz_json_header", json.dumps(resp, separators=(",", ":")).encode(), "response")
    put("fuzz_frame", frame(0, json.dumps(resp).encode()), "response_json")
    bh = binary_header(17, 1, 401, 5, 1, resp["remark"], {"k": "", "topic": "T"})
    put("fuzz_binary_header", bh, "response")
    put("fuzz_frame", frame(1, bh), "response_binary")
    put("fuzz_json_header", b'{"code":"12","opaque":"-3","flag":null,"language":"GO",'
        b'"extFields":{"n":null,"o":{"a":[1,2]},"f":1.5,"b":true,"s":"\\u00e9\\ud83d\\ude00"}}',
        "lenient")

    # Bodies for fuzz_json_body (first byte selects the parser).
    topic = {"topicName": "TopicTest", "readQueueNums": 4, "writeQueueNums": 4, "perm": 6,
             "topicFilterType": "SINGLE_TAG", "topicSysFlag": 0, "order": False, "attributes": {}}
    dv = {"stateVersion": 0, "timestamp": 1700000000000, "counter": 3}
    wrapper = {"topicConfigTable": {"TopicTest": topic}, "dataVersion": dv}
    plain = {"topicConfigSerializeWrapper": wrapper, "filterServerList": ["10.0.0.1:4000"]}
    put("fuzz_json_body", b"\x01" + json.dumps(plain).encode(), "register_plain")
    def lp(b):  # int32 length-prefixed bytes
        return struct.pack(">i", len(b)) + b
    raw = b"".join([lp(json.dumps(dv).encode()), struct.pack(">i", 2),
                    lp(b"TopicTest 4 4 6 SINGLE_TAG"),
                    lp(b'%RETRY%GID 1 1 6 SINGLE_TAG {"+delete.policy":"COMPACTION"}'),
                    lp(b"[]")])
    put("fuzz_json_body", b"\x02" + zlib.compress(raw), "register_compressed")
    put("fuzz_json_body", b"\x03" + b'{"offsetTable":{"T@G":{0:12,1:-1}},"x":[{1:"a"}]}',
        "lenient_bare_keys")
    put("fuzz_json_body", b"\x04" + json.dumps(wrapper).encode(), "topic_config_wrapper")


if __name__ == "__main__":
    main()
