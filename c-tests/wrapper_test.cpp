// The C++ wrapper (include/rocwebsocket.hpp): codecs talking to each other, results and
// exceptions, a callback engine whose handler throws (the connection closes with 1011 and
// nothing unwinds into the library), a batched client engine, moves of owning objects.
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include "check.h"
#include "rocwebsocket.hpp"

// Moves every byte `from` queued into `to`.
static void pump(rws::codec &from, rws::codec &to) {
    std::string bytes = from.take_output();
    CHECK(to.feed(bytes));
}

static void codec_round_trip() {
    rws::codec client(RWS_ROLE_CLIENT), server(RWS_ROLE_SERVER);
    CHECK(client.send("hello", rws::message_type::text));
    CHECK(client.buffered_amount() > 5);
    pump(client, server);
    rws::event e = server.next_event();
    CHECK(e.type == RWS_EVENT_TEXT && e.data == "hello");
    CHECK(server.next_event().type == RWS_EVENT_NONE);

    std::string big(70000, '\xff');  // binary: no UTF-8 rule
    CHECK(server.send(big));
    CHECK(server.ping("p"));
    pump(server, client);
    e = client.next_event();
    CHECK(e.type == RWS_EVENT_BINARY && e.data == big);
    e = client.next_event();
    CHECK(e.type == RWS_EVENT_PING && e.data == "p");
    pump(client, server);  // the automatic pong
    e = server.next_event();
    CHECK(e.type == RWS_EVENT_PONG && e.data == "p");

    // Failures a live connection meets are results, not exceptions.
    rws::result bad = client.send("\xc3\x28", rws::message_type::text);
    CHECK(!bad && bad.code() == RWS_ERR_UTF8);
    CHECK(std::string(bad.name()) == "RWS_ERR_UTF8");
    rws::result reserved = client.close(1005);
    CHECK(!reserved && reserved.code() == RWS_ERR_INVALID_ARGUMENT);
    bool threw = false;
    try {
        reserved.value("close");
    } catch (const rws::error &err) {
        threw = err.code() == RWS_ERR_INVALID_ARGUMENT;
    }
    CHECK(threw);

    CHECK(client.close(RWS_CLOSE_NORMAL, "bye"));
    pump(client, server);
    e = server.next_event();
    CHECK(e.type == RWS_EVENT_CLOSE && e.close_code == 1000 && e.data == "bye");
    pump(server, client);
    e = client.next_event();
    CHECK(e.type == RWS_EVENT_CLOSE && e.close_code == 1000);
    CHECK(client.should_close());

    rws::codec moved = std::move(client);  // the moved-from codec owns nothing
    CHECK(moved.raw() != nullptr && client.raw() == nullptr);
}

static void utf8() {
    CHECK(rws::is_utf8("h\xc3\xa9llo"));
    CHECK(!rws::is_utf8("\xed\xa0\x80"));  // a surrogate
    rws::utf8_validator v;
    CHECK(v.feed("\xe2\x82"));  // a prefix of the euro sign
    CHECK(!v.finish());         // left incomplete
    CHECK(v.feed("\xe2\x82"));
    CHECK(v.feed("\xac"));
    CHECK(v.finish());
}

static void start_failure_throws() {
    bool threw = false;
    try {
        rws::engine e = rws::engine::start(rws::config().listen("not an address"), rws::handlers());
    } catch (const rws::error &err) {
        threw = err.code() == RWS_ERR_INVALID_ARGUMENT;
    }
    CHECK(threw);
}

// Polls `client` until an event of `type` comes (10 s limit) and returns it with its data copied.
struct owned_event {
    rws_event_type type;
    uint64_t conn;
    uint16_t close_code;
    std::string data;
};
static owned_event wait_for(const rws::engine &client, rws_event_type type) {
    std::vector<rws::event> events;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        client.poll(events, 64, 100);
        for (const rws::event &e : events) {
            if (e.type == type) return {e.type, e.conn, e.close_code, std::string(e.data)};
        }
    }
    CHECK(!"event came within 10 s");
    return {};
}

static void engine_with_a_throwing_handler() {
    std::atomic<int> opens{0};
    rws::engine server = rws::engine::start(
        rws::config().listen("127.0.0.1:0").threads(1),
        rws::handlers()
            .on_open([&opens](rws::context &c, const rws::event &) {
                c.set_tag(1234);  // every later event of this connection carries it
                opens++;
            })
            .on_message([](rws::context &c, const rws::event &e) {
                CHECK(e.tag == 1234 && c.tag() == 1234);
                if (e.data == "throw") throw std::runtime_error("handler failed");
                CHECK(c.send(e.data, e.message()));
            }));
    rws::engine moved_server = std::move(server);  // the handlers move with the engine
    CHECK(server.raw() == nullptr);
    std::string url = "ws://127.0.0.1:" + std::to_string(moved_server.port()) + "/";

    rws::engine client = rws::engine::start_batched(rws::config().threads(1));
    CHECK(client.connect(url, 7));
    owned_event open = wait_for(client, RWS_EVENT_OPEN);
    CHECK(client.send(open.conn, "echo me", rws::message_type::text));
    owned_event echo = wait_for(client, RWS_EVENT_TEXT);
    CHECK(echo.data == "echo me");
    CHECK(opens == 1);
    CHECK(client.ping(open.conn, "p1"));
    CHECK(wait_for(client, RWS_EVENT_PONG).data == "p1");

    CHECK(client.send(open.conn, "throw", rws::message_type::text));
    owned_event closed = wait_for(client, RWS_EVENT_CLOSE);
    CHECK(closed.close_code == RWS_CLOSE_INTERNAL_ERROR);
    CHECK(moved_server.callback_failures() == 1);

    // Sends are results, not exceptions: an id no thread of this engine owns is refused
    // (one that closed meanwhile is accepted and dropped, as the header says).
    rws::result unknown = client.send(uint64_t(200) << 56, "to nobody");
    CHECK(!unknown && unknown.code() == RWS_ERR_UNKNOWN_CONNECTION);
    // Polling an engine started with callbacks is a misuse: an exception.
    bool threw = false;
    try {
        std::vector<rws::event> events;
        moved_server.poll(events, 1, 0);
    } catch (const rws::error &err) {
        threw = err.code() == RWS_ERR_INVALID_ARGUMENT;
    }
    CHECK(threw);
    moved_server.stop(1000);
}

int main() {
    codec_round_trip();
    utf8();
    start_failure_throws();
    engine_with_a_throwing_handler();
    std::printf("%d checks passed\n", checks_run);
    return 0;
}
