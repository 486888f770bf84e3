// A rocwebsocket client in C++17 on a batched engine: connects to an echo server, pings
// and waits for the pong, sends messages of growing size as text and binary, checks every
// echo, closes.
//   c++ -std=c++17 echo_client.cpp $(pkg-config --cflags --libs rocwebsocket) -o echo_client
//   ./echo_client ws://127.0.0.1:9001/ 100
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include "rocwebsocket.hpp"

int main(int argc, char **argv) {
    const std::string url = argc > 1 ? argv[1] : "ws://127.0.0.1:9001/";
    const int count = argc > 2 ? std::atoi(argv[2]) : 100;
    try {
        rws::engine client = rws::engine::start_batched(rws::config().threads(1));
        client.connect(url, /*tag=*/42).value("connect");
        std::vector<rws::event> events;
        uint64_t conn = 0;
        int sent = 0, echoed = 0;
        std::string expected;
        auto send_next = [&] {
            // Message i: i * 97 bytes, text on even i, binary on odd i.
            expected.assign(static_cast<size_t>(sent) * 97, static_cast<char>('a' + sent % 26));
            auto type = sent % 2 ? rws::message_type::binary : rws::message_type::text;
            client.send(conn, expected, type).value("send");
            sent++;
        };
        while (echoed < count) {
            if (client.poll(events, 64, 5000) == 0) {
                std::fprintf(stderr, "no event for 5 s\n");
                return 1;
            }
            for (const rws::event &e : events) {
                switch (e.type) {
                case RWS_EVENT_OPEN:
                    conn = e.conn;
                    client.ping(conn, "are you there?").value("ping");
                    break;
                case RWS_EVENT_PONG:  // the round trip: start sending
                    if (e.data != "are you there?" || e.tag != 42) return 1;
                    send_next();
                    break;
                case RWS_EVENT_TEXT:
                case RWS_EVENT_BINARY:
                    if (e.data != expected || (e.type == RWS_EVENT_TEXT) != (echoed % 2 == 0)) {
                        std::fprintf(stderr, "echo %d differs\n", echoed);
                        return 1;
                    }
                    if (++echoed < count) send_next();
                    break;
                case RWS_EVENT_CONNECT_ERROR:
                case RWS_EVENT_CLOSE:
                    std::fprintf(stderr, "connection ended: %u %.*s\n", e.close_code,
                                 static_cast<int>(e.data.size()), e.data.data());
                    return 1;
                default:
                    break;
                }
            }
        }
        client.close(conn, RWS_CLOSE_NORMAL, "done").value("close");
        std::printf("echoed %d messages\n", echoed);
        return 0;  // the engine's destructor finishes the closing handshake and frees it
    } catch (const rws::error &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
