// rocwebsocket.hpp: a header-only C++17 wrapper over the C ABI of rocwebsocket.h.
//
//   rws::engine server = rws::engine::start(
//       rws::config().listen("127.0.0.1:9001"),
//       rws::handlers().on_message([](rws::context &c, const rws::event &e) { c.send(e.data, e.type); }));
//
// What it adds to the C header, and nothing more:
//   - ownership: rws::engine, rws::codec and rws::utf8_validator free their C object in their
//     destructor; they are move-only;
//   - payloads as std::string_view (bytes, not necessarily text; never NUL-terminated), valid
//     for as long as the C header says the event's data is (during the callback, or until the
//     next poll);
//   - callbacks as callables (std::function), which may capture state;
//   - errors, by one rule. Exceptions (rws::error, carrying the rws_result and the library's
//     message) for what a program does not plan for: an engine that cannot start, a
//     malformed config, a misuse such as polling an engine started with callbacks. Plain
//     results (rws::result, [[nodiscard]], testable as a bool) for what a live server meets
//     every second: a send to a connection that just closed, a close code a peer may not
//     send, invalid UTF-8 handed to send. Throwing on those would make the hot path pay for
//     try/catch and turn a routine race into control flow.
//   - no exception ever crosses the C library: a callback that throws is caught in the
//     trampoline; the connection it was about is closed with 1011 (internal error) and
//     rws::engine::callback_failures() counts it. Keep the callback noexcept where you can.
//
// Threads: as in rocwebsocket.h. Callbacks run on the engine's threads (concurrently when the
// engine has several), so what they capture must be safe to share, or use threads(1). The
// const member functions of rws::engine are thread-safe; stop() and the destructor must not
// run inside a callback. rws::codec and rws::utf8_validator are used from one thread at a time.
//
// Link with the library (pkg-config rocwebsocket, or CMake's rocwebsocket::rocwebsocket).
#ifndef ROCWEBSOCKET_HPP
#define ROCWEBSOCKET_HPP

#if __cplusplus < 201703L && (!defined(_MSVC_LANG) || _MSVC_LANG < 201703L)
#error "rocwebsocket.hpp needs C++17"
#endif

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rocwebsocket.h"

namespace rws {

/// The last failure's message on this thread (empty if none).
inline std::string last_error_message() {
    char buf[256];
    size_t full = rws_last_error_message(buf, sizeof buf);
    if (full < sizeof buf) return std::string(buf, full);
    std::string s(full + 1, '\0');
    rws_last_error_message(s.data(), s.size());
    s.resize(full);
    return s;
}

/// An unplanned failure: the result code and the library's message.
class error : public std::runtime_error {
  public:
    error(rws_result code, const std::string &what)
        : std::runtime_error(what + ": " + rws_result_name(code)), code_(code) {}
    /// The C result code.
    rws_result code() const noexcept { return code_; }

  private:
    rws_result code_;
};

/// Throws rws::error for anything but RWS_OK, with the calling thread's last message.
inline void check(rws_result r, const char *what) {
    if (r != RWS_OK) throw error(r, std::string(what) + ": " + last_error_message());
}

/// The outcome of a call that may fail in normal operation (send, close, ...).
class [[nodiscard]] result {
  public:
    constexpr result(rws_result code) noexcept : code_(code) {}  // NOLINT: implicit by design
    /// True on RWS_OK.
    constexpr explicit operator bool() const noexcept { return code_ == RWS_OK; }
    /// The C result code.
    constexpr rws_result code() const noexcept { return code_; }
    /// Its name ("RWS_ERR_CLOSING", ...).
    const char *name() const noexcept { return rws_result_name(code_); }
    /// Turns a failure into an rws::error, for callers that want one.
    void value(const char *what = "rocwebsocket") const {
        if (code_ != RWS_OK) check(code_, what);
    }

  private:
    rws_result code_;
};

inline const uint8_t *bytes(std::string_view s) noexcept {
    return reinterpret_cast<const uint8_t *>(s.data());
}

/// What a message is: text (UTF-8, checked when sent) or binary.
enum class message_type : uint8_t { text = RWS_OPCODE_TEXT, binary = RWS_OPCODE_BINARY };

/// One event, borrowed from the library. `data` lives as the C event's data does: during
/// the callback (callback engines), until the next poll (batched engines), until the next
/// call on the codec (codecs).
struct event {
    rws_event_type type = RWS_EVENT_NONE;  ///< what happened
    uint64_t conn = 0;                     ///< the connection id (engine events)
    uint64_t tag = 0;                      ///< the connection's tag (see rocwebsocket.h)
    uint16_t close_code = 0;               ///< CLOSE and ERROR events
    std::string_view data;                 ///< payload, path or reason

    /// The message type of a TEXT or BINARY event (binary for any other event).
    message_type message() const noexcept {
        return type == RWS_EVENT_TEXT ? message_type::text : message_type::binary;
    }
    static event from(const rws_event &e) noexcept {
        event out;
        out.type = e.type_;
        out.conn = e.conn;
        out.tag = e.tag;
        out.close_code = e.close_code;
        out.data = std::string_view(reinterpret_cast<const char *>(e.data), e.data ? e.len : 0);
        return out;
    }
};

/// Engine settings (rws_engine_config plus the strings it points to).
class config {
  public:
    config() { rws_engine_config_init(&c_); }
    /// Adds an address to listen on ("127.0.0.1:9001", "[::1]:0", "unix:/path").
    config &listen(std::string address) {
        listen_.push_back(std::move(address));
        return *this;
    }
    /// Adds a subprotocol, in preference order.
    config &protocol(std::string name) {
        protocols_.push_back(std::move(name));
        return *this;
    }
    config &threads(uint32_t n) { return c_.threads = n, *this; }                      ///< 0: one per core
    config &max_connections(uint32_t n) { return c_.max_connections = n, *this; }      ///< 0: no limit
    config &max_message_size(uint64_t n) { return c_.conn.max_message_size = n, *this; }  ///< bytes
    config &max_frame_size(uint64_t n) { return c_.conn.max_frame_size = n, *this; }  ///< bytes
    config &max_buffered(uint64_t n) { return c_.max_buffered = n, *this; }            ///< bytes
    config &backpressure(rws_backpressure b) { return c_.backpressure = b, *this; }    ///< past max_buffered
    config &idle_timeout_ms(uint32_t ms) { return c_.idle_timeout_ms = ms, *this; }    ///< 0: none
    config &ping_interval_ms(uint32_t ms) { return c_.ping_interval_ms = ms, *this; }  ///< 0: none
    config &max_queued_bytes(uint64_t n) { return c_.max_queued_bytes = n, *this; }    ///< batched engines
    /// The C struct, for fields this class does not name.
    rws_engine_config &raw() noexcept { return c_; }

    /// The C struct with its string arrays pointing into `ptrs` (kept alive by the caller).
    rws_engine_config build(std::vector<const char *> &ptrs) const {
        ptrs.clear();
        for (const auto &s : listen_) ptrs.push_back(s.c_str());
        for (const auto &s : protocols_) ptrs.push_back(s.c_str());
        rws_engine_config c = c_;
        c.listen = listen_.empty() ? nullptr : ptrs.data();
        c.listen_count = listen_.size();
        c.protocols = protocols_.empty() ? nullptr : ptrs.data() + listen_.size();
        c.protocol_count = protocols_.size();
        return c;
    }

  private:
    rws_engine_config c_{};
    std::vector<std::string> listen_;
    std::vector<std::string> protocols_;
};

/// The connection a callback is about; valid only during that callback.
class context {
  public:
    explicit context(rws_ctx *ctx) noexcept : ctx_(ctx) {}
    /// The connection id (never reused by the engine).
    uint64_t id() const noexcept { return rws_ctx_conn(ctx_); }
    /// The connection's tag (see rocwebsocket.h: carried on every event).
    uint64_t tag() const noexcept { return rws_ctx_tag(ctx_); }
    /// Sets the tag every later event of this connection carries (a number or a pointer
    /// cast to uint64_t); set it in on_open and no event lacks it.
    void set_tag(uint64_t tag) noexcept { (void)rws_ctx_set_tag(ctx_, tag); }
    /// Queues a message (copied), written after the callback returns.
    result send(std::string_view data, message_type type = message_type::binary) noexcept {
        return rws_ctx_send(ctx_, static_cast<uint8_t>(type), bytes(data), data.size());
    }
    /// Queues a ping (at most 125 bytes).
    result ping(std::string_view data = {}) noexcept {
        return rws_ctx_send(ctx_, RWS_OPCODE_PING, bytes(data), data.size());
    }
    /// Starts the closing handshake.
    result close(uint16_t code = RWS_CLOSE_NORMAL, std::string_view reason = {}) noexcept {
        return rws_ctx_close(ctx_, code, bytes(reason), reason.size());
    }
    /// Stops reading until rws::engine::resume_reading.
    result pause_reading() noexcept { return rws_ctx_pause_reading(ctx_); }
    /// Subscribes the connection to a topic (see rws::engine::publish).
    result subscribe(const std::string &topic) noexcept {
        return rws_ctx_subscribe(ctx_, topic.c_str());
    }
    /// Bytes queued and not yet written.
    size_t buffered_amount() const noexcept { return rws_ctx_buffered_amount(ctx_); }
    /// The C handle.
    rws_ctx *raw() const noexcept { return ctx_; }

  private:
    rws_ctx *ctx_;
};

/// The callables of a callback engine; any may be left empty. `ctx` is null for CLOSE and
/// CONNECT_ERROR events (the connection is gone).
class handlers {
  public:
    /// The signature of every handler.
    using fn = std::function<void(context &ctx, const event &ev)>;
    handlers &on_open(fn f) { return open_ = std::move(f), *this; }        ///< OPEN
    handlers &on_message(fn f) { return message_ = std::move(f), *this; }  ///< TEXT, BINARY
    handlers &on_close(fn f) { return close_ = std::move(f), *this; }      ///< CLOSE
    handlers &on_drain(fn f) { return drain_ = std::move(f), *this; }      ///< DRAIN
    handlers &on_error(fn f) { return error_ = std::move(f), *this; }      ///< CONNECT_ERROR
    handlers &on_control(fn f) { return control_ = std::move(f), *this; }  ///< PING, PONG

  private:
    friend class engine;
    fn open_, message_, close_, drain_, error_, control_;
};

/// A running engine (rws_engine), stopped and freed by its destructor.
class engine {
  public:
    /// Starts an engine that reports through `h`; throws rws::error when it cannot start.
    static engine start(const config &cfg, handlers h) {
        auto st = std::make_unique<state>();
        st->h = std::move(h);
        rws_callbacks cb{};
        cb.user = st.get();
        if (st->h.open_) cb.on_open = &trampoline<&handlers::open_>;
        if (st->h.message_) cb.on_message = &trampoline<&handlers::message_>;
        if (st->h.close_) cb.on_close = &trampoline<&handlers::close_>;
        if (st->h.drain_) cb.on_drain = &trampoline<&handlers::drain_>;
        if (st->h.error_) cb.on_error = &trampoline<&handlers::error_>;
        if (st->h.control_) cb.on_control = &trampoline<&handlers::control_>;
        std::vector<const char *> ptrs;
        rws_engine_config c = cfg.build(ptrs);
        rws_engine *e = rws_engine_start(&c, &cb);
        if (!e) check(rws_last_error_code(), "rws_engine_start");
        return engine(e, std::move(st));
    }

    /// Starts an engine whose events are taken with poll(); throws rws::error on failure.
    static engine start_batched(const config &cfg) {
        std::vector<const char *> ptrs;
        rws_engine_config c = cfg.build(ptrs);
        rws_engine *e = rws_engine_start_batched(&c);
        if (!e) check(rws_last_error_code(), "rws_engine_start_batched");
        return engine(e, nullptr);
    }

    engine(engine &&other) noexcept
        : e_(std::exchange(other.e_, nullptr)), state_(std::move(other.state_)) {}
    engine &operator=(engine &&other) noexcept {
        if (this != &other) {
            rws_engine_free(e_);
            e_ = std::exchange(other.e_, nullptr);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    engine(const engine &) = delete;
    engine &operator=(const engine &) = delete;
    /// Stops (1 s grace) and frees the engine; must not run inside a callback.
    ~engine() { rws_engine_free(e_); }

    /// Batched engines: fills `out` (cleared first) with up to `max` events, waiting up to
    /// `timeout_ms` for the first (-1: without limit) and returns how many: 0 when the
    /// timeout passed, or once a stopped engine has handed out every event (so
    /// `while (e.poll(evs) > 0)` ends after a stop). Their data lives until the next
    /// poll. Throws rws::error for an engine started with callbacks.
    size_t poll(std::vector<event> &out, size_t max = 256, int32_t timeout_ms = -1) const {
        raw_.resize(max);
        size_t count = 0;
        out.clear();
        rws_result r = rws_engine_poll_events(e_, raw_.data(), max, timeout_ms, &count);
        if (r == RWS_ERR_STOPPED) return 0;
        check(r, "rws_engine_poll_events");
        for (size_t i = 0; i < count; i++) out.push_back(event::from(raw_[i]));
        return count;
    }

    /// Sends a message (copied) to `conn` from any thread.
    result send(uint64_t conn, std::string_view data,
                message_type type = message_type::binary) const noexcept {
        return rws_engine_send(e_, conn, static_cast<uint8_t>(type), bytes(data), data.size());
    }
    /// Sends a ping (at most 125 bytes) to `conn`; a PONG event answers it.
    result ping(uint64_t conn, std::string_view data = {}) const noexcept {
        return rws_engine_send(e_, conn, RWS_OPCODE_PING, bytes(data), data.size());
    }
    /// Sets the tag of `conn`'s later events, from any thread (asynchronous: see
    /// rws_engine_set_tag for the events already queued).
    result set_tag(uint64_t conn, uint64_t tag) const noexcept {
        return rws_engine_set_tag(e_, conn, tag);
    }
    /// Starts the closing handshake of `conn` from any thread.
    result close(uint64_t conn, uint16_t code = RWS_CLOSE_NORMAL,
                 std::string_view reason = {}) const noexcept {
        return rws_engine_close(e_, conn, code, bytes(reason), reason.size());
    }
    /// Sends one message to every open server-side connection.
    result broadcast(std::string_view data, message_type type = message_type::binary) const noexcept {
        return rws_engine_broadcast(e_, static_cast<uint8_t>(type), bytes(data), data.size());
    }
    /// Sends one message to every connection subscribed to `topic`.
    result publish(const std::string &topic, std::string_view data,
                   message_type type = message_type::binary) const noexcept {
        return rws_engine_publish(e_, topic.c_str(), static_cast<uint8_t>(type), bytes(data),
                                  data.size());
    }
    /// Opens a client connection to `url`; OPEN or CONNECT_ERROR follows with `tag`.
    result connect(const std::string &url, uint64_t tag = 0) const noexcept {
        return rws_engine_connect(e_, url.c_str(), tag);
    }
    /// Resumes reading from a paused connection.
    result resume_reading(uint64_t conn) const noexcept {
        return rws_engine_resume_reading(e_, conn);
    }
    /// The first TCP listener's port (useful with port 0), or 0.
    uint16_t port() const noexcept { return rws_engine_port(e_); }
    /// Connections open or opening.
    size_t connection_count() const noexcept { return rws_engine_connection_count(e_); }
    /// The batched engine's wake-up descriptor (-1 for callback engines).
    int event_fd() const noexcept { return rws_engine_event_fd(e_); }
    /// Stops gracefully (1001 to every connection, `grace_ms` for closing handshakes).
    void stop(uint32_t grace_ms = 1000) const { check(rws_engine_stop(e_, grace_ms), "rws_engine_stop"); }
    /// Callbacks that threw (each closed its connection with 1011).
    uint64_t callback_failures() const noexcept {
        return state_ ? state_->failures.load(std::memory_order_relaxed) : 0;
    }
    /// The C handle (still owned by this object).
    rws_engine *raw() const noexcept { return e_; }

  private:
    // The handlers and the failure count, at a stable address the C callbacks' `user` names.
    struct state {
        handlers h;
        std::atomic<uint64_t> failures{0};
    };
    engine(rws_engine *e, std::unique_ptr<state> st) : e_(e), state_(std::move(st)) {}

    template <handlers::fn handlers::*Member>
    static void trampoline(void *user, rws_ctx *ctx, const rws_event *ev) noexcept {
        auto *st = static_cast<state *>(user);
        try {
            context c(ctx);
            (st->h.*Member)(c, event::from(*ev));
        } catch (...) {
            // Nothing may unwind into the library: close the connection and count it.
            st->failures.fetch_add(1, std::memory_order_relaxed);
            if (ctx) {
                static const char reason[] = "exception in handler";
                (void)rws_ctx_close(ctx, RWS_CLOSE_INTERNAL_ERROR,
                                    reinterpret_cast<const uint8_t *>(reason), sizeof reason - 1);
            }
        }
    }

    rws_engine *e_;
    std::unique_ptr<state> state_;
    mutable std::vector<rws_event> raw_;
};

/// A sans-IO connection (rws_conn): bytes in, events out, messages in, bytes out.
class codec {
  public:
    /// A connection for `role`; throws rws::error if it cannot be made.
    explicit codec(rws_role role, uint64_t max_frame_size = 0, uint64_t max_message_size = 0) {
        rws_conn_config c{max_frame_size, max_message_size};
        c_ = rws_conn_new(role, &c);
        if (!c_) throw error(RWS_ERR_INVALID_ARGUMENT, "rws_conn_new: " + last_error_message());
    }
    codec(codec &&other) noexcept : c_(std::exchange(other.c_, nullptr)) {}
    codec &operator=(codec &&other) noexcept {
        if (this != &other) {
            rws_conn_free(c_);
            c_ = std::exchange(other.c_, nullptr);
        }
        return *this;
    }
    codec(const codec &) = delete;
    codec &operator=(const codec &) = delete;
    ~codec() { rws_conn_free(c_); }

    /// Hands over received bytes (copied).
    result feed(std::string_view received) noexcept {
        return rws_conn_feed(c_, bytes(received), received.size());
    }
    /// The next event, or an event of type RWS_EVENT_NONE when more bytes are needed. Its
    /// data lives until the next call on this codec.
    event next_event() noexcept {
        rws_event ev{};
        if (rws_conn_next_event(c_, &ev) != RWS_OK) return event{};
        return event::from(ev);
    }
    /// Queues a message (copied).
    result send(std::string_view data, message_type type = message_type::binary) noexcept {
        return rws_conn_send(c_, static_cast<uint8_t>(type), bytes(data), data.size());
    }
    /// Queues a ping (at most 125 bytes).
    result ping(std::string_view data = {}) noexcept {
        return rws_conn_send(c_, RWS_OPCODE_PING, bytes(data), data.size());
    }
    /// Starts the closing handshake.
    result close(uint16_t code = RWS_CLOSE_NORMAL, std::string_view reason = {}) noexcept {
        return rws_conn_close(c_, code, bytes(reason), reason.size());
    }
    /// The first run of bytes waiting to be written (empty when none); valid until the
    /// next call that changes the codec. Call consume(n) after writing n of them.
    std::string_view pending_output() const noexcept {
        const uint8_t *data = nullptr;
        size_t len = 0;
        if (rws_conn_pending_output(c_, &data, &len) != RWS_OK || !data) return {};
        return std::string_view(reinterpret_cast<const char *>(data), len);
    }
    /// Marks `n` bytes of pending_output() as written.
    void consume(size_t n) noexcept { (void)rws_conn_consume_output(c_, n); }
    /// Every byte waiting to be written, taken at once (consumed).
    std::string take_output() {
        std::string out;
        for (auto run = pending_output(); !run.empty(); run = pending_output()) {
            out.append(run);
            consume(run.size());
        }
        return out;
    }
    /// Bytes queued and not yet consumed.
    size_t buffered_amount() const noexcept { return rws_conn_buffered_amount(c_); }
    /// Whether the transport should now be closed.
    bool should_close() const noexcept { return rws_conn_should_close(c_); }
    /// The C handle (still owned by this object).
    rws_conn *raw() const noexcept { return c_; }

  private:
    rws_conn *c_ = nullptr;
};

/// An incremental UTF-8 validator (rws_utf8_validator).
class utf8_validator {
  public:
    utf8_validator() : v_(rws_utf8_validator_new()) {
        if (!v_) throw std::bad_alloc();
    }
    utf8_validator(utf8_validator &&other) noexcept : v_(std::exchange(other.v_, nullptr)) {}
    utf8_validator &operator=(utf8_validator &&other) noexcept {
        if (this != &other) {
            rws_utf8_validator_free(v_);
            v_ = std::exchange(other.v_, nullptr);
        }
        return *this;
    }
    utf8_validator(const utf8_validator &) = delete;
    utf8_validator &operator=(const utf8_validator &) = delete;
    ~utf8_validator() { rws_utf8_validator_free(v_); }
    /// False as soon as the bytes seen so far cannot be valid.
    bool feed(std::string_view chunk) noexcept {
        return rws_utf8_validator_feed(v_, bytes(chunk), chunk.size()) == RWS_OK;
    }
    /// False if a code point is left incomplete; resets the validator.
    bool finish() noexcept { return rws_utf8_validator_finish(v_) == RWS_OK; }

  private:
    rws_utf8_validator *v_;
};

/// Whether `text` is valid UTF-8.
inline bool is_utf8(std::string_view text) noexcept {
    return rws_utf8_validate(bytes(text), text.size()) == RWS_OK;
}

}  // namespace rws

#endif  // ROCWEBSOCKET_HPP
