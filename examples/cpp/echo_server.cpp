// A minimal rocwebsocket echo server in C++17 (stop it with Ctrl-C or SIGTERM).
//   c++ -std=c++17 echo_server.cpp $(pkg-config --cflags --libs rocwebsocket) -o echo_server
//   ./echo_server 127.0.0.1:9001
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include "rocwebsocket.hpp"

int main(int argc, char **argv) {
    const char *address = argc > 1 ? argv[1] : "127.0.0.1:9001";
    sigset_t stop;  // block SIGINT/SIGTERM before the engine starts its threads, then wait
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    rws::engine server = rws::engine::start(
        rws::config().listen(address),
        rws::handlers()
            .on_message([](rws::context &c, const rws::event &e) { (void)c.send(e.data, e.message()); })
            .on_close([](rws::context &, const rws::event &e) {
                std::printf("connection %llu closed: %u\n", (unsigned long long)e.conn, e.close_code);
            }));
    std::printf("echo server on %s\n", address);
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    server.stop(2000);  // 1001 Going Away to everyone; the destructor frees the engine
}
