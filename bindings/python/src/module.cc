// stele._stele: the Python extension, a thin pybind11 layer over the C API (include/stele/c.h).
// The Pythonic surface (exceptions, consume(), context manager) is in stele/__init__.py.
//
// GIL: released around every C API call that takes the store (puts, gets, waits, close), so other
// Python threads run while one blocks. put_async callbacks run on an engine thread and take the
// GIL. Zero copy: a Message keeps its stele_result alive (shared by the messages of one get) and
// exports its body through the buffer protocol; Message.body is a read-only memoryview of it.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stele/c.h"

namespace py = pybind11;

namespace {

// code -> exception class, filled by stele/__init__.py through _set_errors (never freed: it must
// outlive every thread that might raise).
PyObject* g_errors = nullptr;

// Raises the exception for `code` with this thread's last error. Call with the GIL held.
[[noreturn]] void Raise(int code, const std::string& message) {
  PyObject* cls = g_errors != nullptr ? PyDict_GetItem(g_errors, py::int_(code).ptr()) : nullptr;
  if (cls == nullptr) cls = PyExc_RuntimeError;
  py::tuple args = py::make_tuple(code, stele_status_name(code), message);
  PyErr_SetObject(cls, args.ptr());
  throw py::error_already_set();
}

// Runs a C API call without the GIL and raises on failure.
template <typename F>
void Call(F&& f) {
  int rc;
  std::string err;
  {
    py::gil_scoped_release release;
    rc = f();
    if (rc != STELE_OK) err = stele_last_error();
  }
  if (rc != STELE_OK) Raise(rc, err);
}

// One stele_result: the pinned records behind the Messages of one read.
struct Result {
  stele_get_result r{};
  ~Result() {
    if (r.handle != nullptr) stele_result_free(r.handle);
  }
};

struct Message {
  std::shared_ptr<Result> owner;
  const stele_message* m;

  static std::optional<py::str> Str(const char* p, size_t n) {
    if (p == nullptr) return std::nullopt;
    return py::str(p, n);
  }
  py::dict Properties() const {
    py::dict d;
    std::string_view props(m->properties, m->properties_len);
    while (!props.empty()) {
      size_t end = props.find('\x02');
      std::string_view kv = props.substr(0, end);
      size_t sep = kv.find('\x01');
      if (sep != std::string_view::npos) {
        d[py::str(kv.data(), sep)] = py::str(kv.data() + sep + 1, kv.size() - sep - 1);
      }
      if (end == std::string_view::npos) break;
      props.remove_prefix(end + 1);
    }
    return d;
  }
};

py::list Messages(stele_get_result r) {
  auto owner = std::make_shared<Result>();
  owner->r = r;
  py::list out(r.count);
  for (size_t i = 0; i < r.count; ++i) {
    out[i] = py::cast(Message{owner, &owner->r.messages[i]});
  }
  return out;
}

struct PutResult {
  std::string put_status;
  int64_t queue_offset, commit_log_offset, store_timestamp;
  int32_t wrote_bytes;
  std::string msg_id;
};
PutResult ToPy(const stele_put_result& r) {
  return PutResult{stele_put_status_name(r.put_status),
                   r.queue_offset,
                   r.commit_log_offset,
                   r.store_timestamp,
                   r.wrote_bytes,
                   r.msg_id};
}

// A message's fields as the C API wants them; holds the buffer of the body and the strings.
struct MsgArgs {
  std::string topic;
  std::optional<std::string> tags, keys;
  std::vector<std::string> names, values;
  std::vector<const char*> name_ptrs, value_ptrs;
  py::buffer_info body;

  MsgArgs(std::string t, const py::buffer& b, int32_t queue, std::optional<std::string> tg,
          std::optional<std::string> ks, const std::optional<py::dict>& props, stele_msg* m)
      : topic(std::move(t)), tags(std::move(tg)), keys(std::move(ks)), body(b.request()) {
    if (props) {
      for (auto [k, v] : *props) {
        names.push_back(py::str(k));
        values.push_back(py::str(v));
      }
      for (size_t i = 0; i < names.size(); ++i) {
        name_ptrs.push_back(names[i].c_str());
        value_ptrs.push_back(values[i].c_str());
      }
    }
    std::memset(m, 0, sizeof *m);
    m->topic = topic.c_str();
    m->queue_id = queue;
    m->body = body.ptr;
    m->body_len = static_cast<size_t>(body.size * body.itemsize);
    m->tags = tags ? tags->c_str() : nullptr;
    m->keys = keys ? keys->c_str() : nullptr;
    m->property_names = name_ptrs.data();
    m->property_values = value_ptrs.data();
    m->property_count = names.size();
  }
};

class Store {
 public:
  explicit Store(const std::vector<std::pair<std::string, std::string>>& options) {
    std::vector<const char*> k, v;
    for (const auto& [key, value] : options) {
      k.push_back(key.c_str());
      v.push_back(value.c_str());
    }
    Call([&] { return stele_open(k.data(), v.data(), k.size(), &s_); });
  }
  ~Store() {
    if (s_ != nullptr) {
      py::gil_scoped_release release;
      stele_free(s_);
    }
  }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  void Close() {
    Call([&] { return stele_close(s_); });
  }

  PutResult Put(std::string topic, const py::buffer& body, int32_t queue,
                std::optional<std::string> tags, std::optional<std::string> keys,
                std::optional<py::dict> props) {
    stele_msg m;
    MsgArgs args(std::move(topic), body, queue, std::move(tags), std::move(keys), props, &m);
    stele_put_result r;
    Call([&] { return stele_put(s_, &m, &r); });
    return ToPy(r);
  }

  // All bodies go to one (topic, queue) with the same tags and keys; all or none are stored.
  py::object PutBatch(const std::string& topic, const py::sequence& bodies, int32_t queue,
                      const std::optional<std::string>& tags,
                      const std::optional<std::string>& keys, bool results) {
    const size_t n = py::len(bodies);
    std::vector<py::object> held(n);  // keeps each body alive while the GIL is released
    std::vector<Py_buffer> bufs(n);
    std::vector<stele_msg> msgs(n);
    size_t acquired = 0;
    struct Release {
      std::vector<Py_buffer>& b;
      size_t& n;
      ~Release() {
        for (size_t i = 0; i < n; ++i) PyBuffer_Release(&b[i]);
      }
    } release{bufs, acquired};
    for (size_t i = 0; i < n; ++i) {
      held[i] = bodies[i];
      if (PyObject_GetBuffer(held[i].ptr(), &bufs[i], PyBUF_SIMPLE) != 0) {
        throw py::error_already_set();
      }
      ++acquired;
      stele_msg& m = msgs[i];
      std::memset(&m, 0, sizeof m);
      m.topic = topic.c_str();
      m.queue_id = queue;
      m.body = bufs[i].buf;
      m.body_len = static_cast<size_t>(bufs[i].len);
      m.tags = tags ? tags->c_str() : nullptr;
      m.keys = keys ? keys->c_str() : nullptr;
    }
    std::vector<stele_put_result> out(results ? n : 0);
    Call([&] { return stele_put_batch(s_, msgs.data(), n, results ? out.data() : nullptr); });
    if (!results) return py::int_(n);
    py::list l(n);
    for (size_t i = 0; i < n; ++i) l[i] = py::cast(ToPy(out[i]));
    return l;
  }

  void PutAsync(std::string topic, const py::buffer& body, py::function done, int32_t queue,
                std::optional<std::string> tags, std::optional<std::string> keys,
                std::optional<py::dict> props) {
    stele_msg m;
    MsgArgs args(std::move(topic), body, queue, std::move(tags), std::move(keys), props, &m);
    auto* user = new py::function(std::move(done));
    int rc;
    std::string err;
    {
      py::gil_scoped_release release;
      rc = stele_put_async(s_, &m, &Store::OnPut, user);
      if (rc != STELE_OK) err = stele_last_error();
    }
    if (rc != STELE_OK) {
      delete user;  // with the GIL: it drops a reference
      Raise(rc, err);
    }
  }

  py::tuple Get(const std::string& topic, int32_t queue, int64_t offset, int32_t max_messages,
                const std::optional<std::string>& tags) {
    stele_get_result r;
    Call([&] {
      return stele_get(s_, topic.c_str(), queue, offset, max_messages,
                       tags ? tags->c_str() : nullptr, &r);
    });
    return py::make_tuple(stele_get_status_name(r.status), r.next_begin_offset, r.min_offset,
                          r.max_offset, Messages(r));
  }

  py::list QueryKey(const std::string& topic, const std::string& key, int32_t max, int64_t begin_ms,
                    int64_t end_ms) {
    stele_get_result r;
    Call(
        [&] { return stele_query_key(s_, topic.c_str(), key.c_str(), max, begin_ms, end_ms, &r); });
    return Messages(r);
  }

  py::object QueryMsgId(const std::string& id) {
    stele_get_result r;
    Call([&] { return stele_query_msg_id(s_, id.c_str(), &r); });
    py::list l = Messages(r);
    return l[0];
  }

  int64_t SearchOffset(const std::string& topic, int32_t queue, int64_t ts) {
    int64_t v = 0;
    Call([&] { return stele_search_offset(s_, topic.c_str(), queue, ts, &v); });
    return v;
  }
  int64_t MinOffset(const std::string& topic, int32_t queue) {
    int64_t v = 0;
    Call([&] { return stele_min_offset(s_, topic.c_str(), queue, &v); });
    return v;
  }
  int64_t MaxOffset(const std::string& topic, int32_t queue) {
    int64_t v = 0;
    Call([&] { return stele_max_offset(s_, topic.c_str(), queue, &v); });
    return v;
  }
  int64_t NextQueueOffset(const std::string& topic, int32_t queue) {
    int64_t v = 0;
    Call([&] { return stele_next_queue_offset(s_, topic.c_str(), queue, &v); });
    return v;
  }
  bool Wait(const std::string& topic, int32_t queue, int64_t offset, int64_t timeout_ms) {
    int ready = 0;
    Call([&] { return stele_wait(s_, topic.c_str(), queue, offset, timeout_ms, &ready); });
    return ready != 0;
  }
  void Flush() {
    Call([&] { return stele_flush(s_); });
  }
  void CommitOffset(const std::string& group, const std::string& topic, int32_t queue,
                    int64_t offset) {
    Call([&] { return stele_offset_commit(s_, group.c_str(), topic.c_str(), queue, offset); });
  }
  std::optional<int64_t> CommittedOffset(const std::string& group, const std::string& topic,
                                         int32_t queue) {
    int64_t v = 0;
    int rc;
    std::string err;
    {
      py::gil_scoped_release release;
      rc = stele_offset_query(s_, group.c_str(), topic.c_str(), queue, &v);
      if (rc != STELE_OK) err = stele_last_error();
    }
    if (rc == STELE_E_NOT_FOUND) return std::nullopt;
    if (rc != STELE_OK) Raise(rc, err);
    return v;
  }
  void PersistOffsets() {
    Call([&] { return stele_offsets_persist(s_); });
  }

 private:
  // On an engine thread (or the caller's, for a put refused at once): takes the GIL, calls the
  // user's function with (result, error), and drops it. Exceptions it raises are printed.
  static void OnPut(void* user, int status, const stele_put_result* r, const char* error) {
    py::gil_scoped_acquire gil;
    std::unique_ptr<py::function> done(static_cast<py::function*>(user));
    try {
      if (status == STELE_OK) {
        (*done)(ToPy(*r), py::none());
      } else {
        py::object exc = py::none();
        PyObject* cls =
            g_errors != nullptr ? PyDict_GetItem(g_errors, py::int_(status).ptr()) : nullptr;
        if (cls != nullptr) {
          exc = py::reinterpret_borrow<py::object>(cls)(status, stele_status_name(status),
                                                        error != nullptr ? error : "");
        }
        (*done)(py::none(), exc);
      }
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("stele put_async callback");
    }
  }

  stele_store* s_ = nullptr;
};

}  // namespace

PYBIND11_MODULE(_stele, mod) {
  mod.doc() = "Stele embedded store: the C extension (use the stele package)";
  mod.attr("ABI_VERSION") = stele_abi_version();
  mod.attr("VERSION") = stele_version();
  mod.def("_set_errors", [](py::dict errors) {
    Py_XDECREF(g_errors);
    g_errors = errors.release().ptr();
  });
  mod.def("status_name", &stele_status_name);

  py::class_<PutResult>(mod, "PutResult")
      .def_readonly("put_status", &PutResult::put_status)
      .def_readonly("queue_offset", &PutResult::queue_offset)
      .def_readonly("commit_log_offset", &PutResult::commit_log_offset)
      .def_readonly("store_timestamp", &PutResult::store_timestamp)
      .def_readonly("wrote_bytes", &PutResult::wrote_bytes)
      .def_readonly("msg_id", &PutResult::msg_id)
      .def("__repr__", [](const PutResult& r) {
        return "PutResult(" + r.put_status + ", queue_offset=" + std::to_string(r.queue_offset) +
               ", msg_id=" + r.msg_id + ")";
      });

  py::class_<Message>(mod, "Message", py::buffer_protocol())
      .def_buffer([](Message& m) {
        return py::buffer_info(const_cast<void*>(m.m->body), 1,
                               py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(m.m->body_len)}, {1}, /*readonly=*/true);
      })
      .def_property_readonly("body", [](py::object self) { return py::memoryview(self); })
      .def_property_readonly("topic",
                             [](const Message& m) { return py::str(m.m->topic, m.m->topic_len); })
      .def_property_readonly(
          "tags", [](const Message& m) { return Message::Str(m.m->tags, m.m->tags_len); })
      .def_property_readonly(
          "keys", [](const Message& m) { return Message::Str(m.m->keys, m.m->keys_len); })
      .def_property_readonly("properties", &Message::Properties)
      .def_property_readonly("queue_id", [](const Message& m) { return m.m->queue_id; })
      .def_property_readonly("queue_offset", [](const Message& m) { return m.m->queue_offset; })
      .def_property_readonly("commit_log_offset",
                             [](const Message& m) { return m.m->commit_log_offset; })
      .def_property_readonly("born_timestamp", [](const Message& m) { return m.m->born_timestamp; })
      .def_property_readonly("store_timestamp",
                             [](const Message& m) { return m.m->store_timestamp; })
      .def_property_readonly("reconsume_times",
                             [](const Message& m) { return m.m->reconsume_times; })
      .def_property_readonly("msg_id", [](const Message& m) { return std::string(m.m->msg_id); })
      .def("__len__", [](const Message& m) { return m.m->body_len; })
      .def("__repr__", [](const Message& m) {
        return "Message(" + std::string(m.m->topic, m.m->topic_len) +
               ", queue_id=" + std::to_string(m.m->queue_id) +
               ", queue_offset=" + std::to_string(m.m->queue_offset) + ", " +
               std::to_string(m.m->body_len) + " bytes)";
      });

  using A = py::arg;
  py::class_<Store>(mod, "Store")
      .def(py::init<const std::vector<std::pair<std::string, std::string>>&>(), A("options"))
      .def("close", &Store::Close)
      .def("put", &Store::Put, A("topic"), A("body"), A("queue"), A("tags"), A("keys"),
           A("properties"))
      .def("put_batch", &Store::PutBatch, A("topic"), A("bodies"), A("queue"), A("tags"), A("keys"),
           A("results"))
      .def("put_async", &Store::PutAsync, A("topic"), A("body"), A("done"), A("queue"), A("tags"),
           A("keys"), A("properties"))
      .def("get", &Store::Get, A("topic"), A("queue"), A("offset"), A("max_messages"), A("tags"))
      .def("query_key", &Store::QueryKey, A("topic"), A("key"), A("max"), A("begin_ms"),
           A("end_ms"))
      .def("query_msg_id", &Store::QueryMsgId, A("msg_id"))
      .def("search_offset", &Store::SearchOffset, A("topic"), A("queue"), A("timestamp_ms"))
      .def("min_offset", &Store::MinOffset, A("topic"), A("queue"))
      .def("max_offset", &Store::MaxOffset, A("topic"), A("queue"))
      .def("next_queue_offset", &Store::NextQueueOffset, A("topic"), A("queue"))
      .def("wait", &Store::Wait, A("topic"), A("queue"), A("offset"), A("timeout_ms"))
      .def("flush", &Store::Flush)
      .def("commit_offset", &Store::CommitOffset, A("group"), A("topic"), A("queue"), A("offset"))
      .def("committed_offset", &Store::CommittedOffset, A("group"), A("topic"), A("queue"))
      .def("persist_offsets", &Store::PersistOffsets);
}
