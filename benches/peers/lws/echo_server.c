/*
 * libwebsockets echo / relay server for benches/compare.sh.
 *
 *   echo_server [--broadcast] [PORT]      (listens on 127.0.0.1, default 9001)
 *
 * The usual libwebsockets shape: one service thread, a per-connection queue
 * of received messages, one lws_write per LWS_CALLBACK_SERVER_WRITEABLE (the
 * library's rule), lws_callback_on_writable while the queue is not empty,
 * and rx flow control when the queue fills. Large messages arrive in chunks
 * of up to rx_buffer_size; each chunk is echoed with the matching
 * first/final fragment flags, so message boundaries are kept.
 *
 * --broadcast queues every received message on every connection (the
 * sender too); a message's bytes are shared by reference count.
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE 256 /* messages queued per connection */

struct msg {
	int refs;
	size_t len;
	int first, final, binary;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then the payload */
};

struct pss {
	struct lws *wsi;
	struct pss *next;
	struct msg *queue[QUEUE];
	unsigned head, tail; /* head: next to write; tail: next free slot */
	int throttled;
};

static struct pss *all; /* every open connection, for --broadcast */
static int broadcast;
static volatile int interrupted;

static void unref(struct msg *m)
{
	if (--m->refs == 0)
		free(m);
}

static int push(struct pss *p, struct msg *m)
{
	if (p->tail - p->head >= QUEUE)
		return -1;
	m->refs++;
	p->queue[p->tail++ % QUEUE] = m;
	lws_callback_on_writable(p->wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct pss *p = user;
	struct pss **pp;
	struct msg *m;
	int flags;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(p, 0, sizeof *p);
		p->wsi = wsi;
		p->next = all;
		all = p;
		break;
	case LWS_CALLBACK_RECEIVE:
		m = malloc(sizeof *m + LWS_PRE + len);
		if (!m)
			return -1;
		m->refs = 1; /* held by this function until the end of the case */
		m->len = len;
		m->first = lws_is_first_fragment(wsi);
		m->final = lws_is_final_fragment(wsi);
		m->binary = lws_frame_is_binary(wsi);
		memcpy(m->buf + LWS_PRE, in, len);
		if (broadcast) {
			for (struct pss *q = all; q; q = q->next)
				if (push(q, m))
					lwsl_warn("queue full: a message was dropped\n");
		} else if (push(p, m)) {
			unref(m);
			return -1;
		}
		unref(m);
		if (p->tail - p->head >= QUEUE - 8 && !p->throttled) {
			lws_rx_flow_control(wsi, 0);
			p->throttled = 1;
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (p->head == p->tail)
			break;
		m = p->queue[p->head % QUEUE];
		flags = lws_write_ws_flags(m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, m->first,
					   m->final);
		if (lws_write(wsi, m->buf + LWS_PRE, m->len, flags) < (int)m->len)
			return -1;
		p->head++;
		unref(m);
		if (p->throttled && p->tail - p->head < QUEUE / 2) {
			lws_rx_flow_control(wsi, 1);
			p->throttled = 0;
		}
		if (p->head != p->tail)
			lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLOSED:
		for (pp = &all; *pp; pp = &(*pp)->next) {
			if (*pp == p) {
				*pp = p->next;
				break;
			}
		}
		while (p->head != p->tail)
			unref(p->queue[p->head++ % QUEUE]);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "echo", callback, sizeof(struct pss), 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 } /* terminator */
};

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *context;
	int port = 9001;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--broadcast"))
			broadcast = 1;
		else
			port = atoi(argv[i]);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

	memset(&info, 0, sizeof info);
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	context = lws_create_context(&info);
	if (!context) {
		fprintf(stderr, "lws_create_context failed\n");
		return 1;
	}
	fprintf(stderr, "libwebsockets %s server listening on 127.0.0.1:%d (broadcast: %d)\n",
		lws_get_library_version(), port, broadcast);
	while (!interrupted && lws_service(context, 0) >= 0)
		;
	lws_context_destroy(context);
	return 0;
}
