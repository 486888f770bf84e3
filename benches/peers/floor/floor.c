/*
 * The floor: the least work a WebSocket echo server can do, the reference
 * every engine in benches/compare.sh and benches/callgrind.sh is measured
 * against.
 *
 *   floor [PORT]      (listens on 127.0.0.1, default 9001; echo only)
 *
 * One thread, one epoll instance, non-blocking sockets. Per wake-up, each
 * readable connection is read until a short read into its own buffer; every
 * complete client frame is unmasked straight into the connection's output
 * buffer as an unmasked frame with the same opcode and FIN (a ping gets a
 * pong, a close gets its close echoed and then the socket closed). At the
 * end of the wake-up each connection with output gets ONE write; what the
 * kernel did not take stays buffered and EPOLLOUT is asked for.
 *
 * Deliberately missing, because an engine must do it and the floor shows
 * what that costs: UTF-8 validation, size limits, fragment reassembly,
 * protocol checks beyond "is the frame masked", timeouts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_MIN (64 * 1024) /* free space offered to each read(2), as rocws bench does */
#define MAX_HEAD 8192	     /* an upgrade request longer than this is refused */
#define MAX_EVENTS 1024

struct buf {
	unsigned char *data;
	size_t off, len, cap; /* bytes [off, len) are pending */
};

struct conn {
	int fd;
	int upgraded;
	int closing; /* a close was answered: no more input, close once written */
	int dirty;   /* on this wake-up's write list */
	int dead;    /* socket closed; freed by the write pass */
	int want_out; /* registered for EPOLLOUT */
	struct buf in, out;
};

static volatile sig_atomic_t stop;
static int ep;
static struct conn **dirty;
static size_t ndirty, dirty_cap;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Makes room for `more` bytes after b->len; false if out of memory. */
static int reserve(struct buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return 1;
	/* Moving pending bytes to the front is cheaper than growing when most were consumed. */
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= more)
			return 1;
	}
	size_t cap = b->cap ? b->cap : READ_MIN;
	while (cap - b->len < more) {
		if (cap > SIZE_MAX / 2)
			return 0;
		cap *= 2;
	}
	unsigned char *p = realloc(b->data, cap);
	if (!p)
		return 0;
	b->data = p;
	b->cap = cap;
	return 1;
}

static void mark_dirty(struct conn *c)
{
	if (c->dirty)
		return;
	if (ndirty == dirty_cap) {
		size_t cap = dirty_cap ? dirty_cap * 2 : 256;
		struct conn **p = realloc(dirty, cap * sizeof *p);
		if (!p)
			return; /* left unwritten; the next readable wake-up retries */
		dirty = p;
		dirty_cap = cap;
	}
	c->dirty = 1;
	dirty[ndirty++] = c;
}

static void free_conn(struct conn *c)
{
	free(c->in.data);
	free(c->out.data);
	free(c);
}

/* Closes the socket at once; the memory goes in the write pass if it is listed there. */
static void drop(struct conn *c)
{
	close(c->fd); /* also removes it from the epoll set */
	c->dead = 1;
	if (!c->dirty)
		free_conn(c);
}

static const char *find_header(const char *head, const char *name, size_t *len)
{
	size_t n = strlen(name);
	for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		const char *p = line + 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			const char *end = strstr(p, "\r\n");
			while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			*len = end - p;
			return p;
		}
	}
	return NULL;
}

/* Answers the upgrade request once complete: 1 done, 0 wait for more, -1 refuse. */
static int upgrade(struct conn *c)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	struct buf *in = &c->in;
	size_t avail = in->len - in->off;
	char head[MAX_HEAD + 1];
	size_t n = avail < MAX_HEAD ? avail : MAX_HEAD;
	memcpy(head, in->data + in->off, n);
	head[n] = 0;
	char *end = strstr(head, "\r\n\r\n");
	if (!end)
		return avail >= MAX_HEAD ? -1 : 0;
	end[2] = 0; /* keep the last header's CRLF for find_header */
	size_t key_len;
	const char *key = find_header(head, "Sec-WebSocket-Key", &key_len);
	if (!key || key_len > 64)
		return -1;
	unsigned char joined[64 + sizeof guid], digest[SHA_DIGEST_LENGTH];
	memcpy(joined, key, key_len);
	memcpy(joined + key_len, guid, sizeof guid - 1);
	SHA1(joined, key_len + sizeof guid - 1, digest);
	unsigned char accept[32];
	EVP_EncodeBlock(accept, digest, sizeof digest);
	char answer[256];
	int len = snprintf(answer, sizeof answer,
			   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			   accept);
	if (!reserve(&c->out, len))
		return -1;
	memcpy(c->out.data + c->out.len, answer, len);
	c->out.len += len;
	in->off += (end + 4) - head;
	c->upgraded = 1;
	return 1;
}

/* Copies n bytes from src to dst, unmasking with the 4-byte key: vectors of
 * V (4-byte lanes, the key broadcast to each), then 8 bytes, then bytes; every
 * step is a multiple of 4 bytes, so the key stays in phase. 16-byte vectors
 * are SSE2, the x86-64 baseline; 32-byte ones AVX2, used when the CPU has it,
 * as the engines under test do. */
#define UNMASK_COPY(name, V, attr)                                                     \
	attr static void name(unsigned char *dst, const unsigned char *src, size_t n,   \
			      const unsigned char key[4])                               \
	{                                                                               \
		uint32_t k32;                                                           \
		memcpy(&k32, key, 4);                                                   \
		V k = (V){} + k32;                                                      \
		uint64_t k64 = (uint64_t)k32 << 32 | k32;                               \
		size_t i = 0;                                                           \
		for (; i + sizeof k <= n; i += sizeof k) {                              \
			V w;                                                            \
			memcpy(&w, src + i, sizeof w);                                  \
			w ^= k;                                                         \
			memcpy(dst + i, &w, sizeof w);                                  \
		}                                                                       \
		for (; i + 8 <= n; i += 8) {                                            \
			uint64_t w;                                                     \
			memcpy(&w, src + i, 8);                                         \
			w ^= k64;                                                       \
			memcpy(dst + i, &w, 8);                                         \
		}                                                                       \
		for (; i < n; i++)                                                      \
			dst[i] = src[i] ^ key[i & 3];                                   \
	}

typedef uint32_t v16 __attribute__((vector_size(16)));
typedef uint32_t v32 __attribute__((vector_size(32)));
UNMASK_COPY(unmask_copy_sse2, v16, )
UNMASK_COPY(unmask_copy_avx2, v32, __attribute__((target("avx2"))))

static void (*unmask_copy)(unsigned char *, const unsigned char *, size_t,
			   const unsigned char[4]) = unmask_copy_sse2;

/* Echoes every complete frame in the input; -1 on a frame it cannot take. */
static int echo_frames(struct conn *c)
{
	struct buf *in = &c->in, *out = &c->out;
	while (!c->closing) {
		const unsigned char *p = in->data + in->off;
		size_t avail = in->len - in->off;
		if (avail < 2)
			break;
		if (!(p[1] & 0x80))
			return -1; /* client frames must be masked */
		uint64_t len = p[1] & 0x7f;
		size_t head = 2;
		if (len == 126) {
			if (avail < 4)
				break;
			len = (uint64_t)p[2] << 8 | p[3];
			head = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = 0;
			for (int i = 2; i < 10; i++)
				len = len << 8 | p[i];
			head = 10;
		}
		if (len > SIZE_MAX / 4)
			return -1;
		if (avail < head + 4 + len)
			break;
		unsigned op = p[0] & 0x0f;
		const unsigned char *key = p + head;
		const unsigned char *payload = key + 4;
		in->off += head + 4 + len;
		if (op == 0xA)
			continue; /* a pong needs no answer */
		unsigned char first = (p[0] & 0x80) | (op == 0x9 ? 0xA : op);
		if (!reserve(out, 10 + len))
			return -1;
		unsigned char *o = out->data + out->len;
		o[0] = first;
		if (len < 126) {
			o[1] = len;
			o += 2;
		} else if (len <= 0xffff) {
			o[1] = 126;
			o[2] = len >> 8;
			o[3] = len;
			o += 4;
		} else {
			o[1] = 127;
			for (int i = 0; i < 8; i++)
				o[2 + i] = len >> (56 - 8 * i);
			o += 10;
		}
		unmask_copy(o, payload, len, key);
		out->len = (o + len) - out->data;
		if (op == 0x8)
			c->closing = 1;
	}
	/* All consumed: start over at the front, so reads stay large and nothing moves. */
	if (in->off == in->len)
		in->off = in->len = 0;
	return 0;
}

/* Reads until a short read and echoes what arrived. */
static void on_readable(struct conn *c)
{
	for (;;) {
		if (!reserve(&c->in, READ_MIN)) {
			drop(c);
			return;
		}
		size_t space = c->in.cap - c->in.len;
		ssize_t n = read(c->fd, c->in.data + c->in.len, space);
		if (n == 0) {
			drop(c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			drop(c);
			return;
		}
		c->in.len += n;
		if ((size_t)n < space)
			break;
	}
	if (c->closing)
		c->in.off = c->in.len = 0; /* input after a close is discarded */
	if (!c->upgraded) {
		int r = upgrade(c);
		if (r < 0) {
			drop(c);
			return;
		}
		if (r == 0)
			return;
	}
	if (echo_frames(c) < 0) {
		drop(c);
		return;
	}
	if (c->out.len > c->out.off)
		mark_dirty(c);
}

static void set_out_interest(struct conn *c, int want)
{
	if (c->want_out == want)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want;
}

/* The one write of this wake-up for connection c. */
static void flush(struct conn *c)
{
	struct buf *out = &c->out;
	ssize_t n = out->len > out->off ? write(c->fd, out->data + out->off, out->len - out->off) : 0;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		drop(c);
		return;
	}
	if (n > 0)
		out->off += n;
	if (out->off == out->len) {
		out->off = out->len = 0;
		if (c->closing) {
			drop(c);
			return;
		}
		set_out_interest(c, 0);
	} else {
		set_out_interest(c, 1);
	}
}

static void accept_all(int listener)
{
	for (;;) {
		int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a failure the next wake-up retries */
		int one = 1;
		/* Small echoes go out at once, as every engine under test does. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 9001;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: floor [PORT]\n");
		return 2;
	}
	/* No SA_RESTART: epoll_wait returns EINTR so the loop sees `stop` and
	 * exits normally (callgrind then writes its counts). */
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (__builtin_cpu_supports("avx2"))
		unmask_copy = unmask_copy_avx2;

	int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
	    listen(listener, 4096) < 0) {
		perror("floor: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listener, &lev) < 0) {
		perror("floor: epoll");
		return 1;
	}
	fprintf(stderr, "floor: echo on 127.0.0.1:%d\n", port);

	struct epoll_event events[MAX_EVENTS];
	while (!stop) {
		int n = epoll_wait(ep, events, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("floor: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			if (!c) {
				accept_all(listener);
				continue;
			}
			if (events[i].events & EPOLLOUT)
				mark_dirty(c);
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
		}
		for (size_t i = 0; i < ndirty; i++) {
			struct conn *c = dirty[i];
			c->dirty = 0;
			if (c->dead)
				free_conn(c);
			else
				flush(c);
		}
		ndirty = 0;
	}
	return 0;
}
