package rocwebsocket

import (
	"context"
	"testing"
	"time"
)

// An echo server: the keepalive's payload comes back as its reply, a
// {"ping":N} sent by the client comes back and is answered by the engine
// ({"pong":N}, echoed again and read), and RTTs are measured.
func TestDialFeedKeepaliveAutoReplyAndStats(t *testing.T) {
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1, Protocols: []string{"feed.v1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	go func() {
		for {
			c, err := srv.Accept(context.Background())
			if err != nil {
				return
			}
			go echo(c)
		}
	}()
	url := "ws://127.0.0.1:" + itoa(srv.Port()) + "/"
	cl := startClient(t)
	ctx := ctxT(t)
	c, err := cl.DialFeed(ctx, url, FeedOptions{
		Headers:   [][2]string{{"X-Api-Key", "k"}},
		Protocols: []string{"feed.v2", "feed.v1"},
		Keepalive: &AppKeepalive{Payload: []byte("hb"), Reply: []byte("hb"),
			Interval: 20 * time.Millisecond, Deadline: 5 * time.Second},
		AutoReplies: []AutoReply{{Prefix: []byte(`{"ping":`), Suffix: []byte("}"),
			ReplyPrefix: []byte(`{"pong":`), ReplySuffix: []byte("}"), MaxCapture: 20}},
		RTTPingInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Protocol(); p != "feed.v1" {
		t.Fatalf("protocol %q", p)
	}
	if err := c.Write(ctx, MessageText, []byte(`{"ping":42}`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != `{"pong":42}` {
		t.Fatalf("read %q, %v (the ping and the heartbeats must not be read)", msg, err)
	}
	for {
		s, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if s.AppRTT.Samples >= 3 && s.WSRTT.Samples >= 3 {
			if s.AppRTT.Min <= 0 || s.WSRTT.Min <= 0 || s.MessagesIn < 5 || s.BytesOut == 0 {
				t.Fatalf("%+v", s)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no RTT samples: %+v", s)
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Connections dialed without feed options keep no statistics.
	plain, err := cl.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Stats(); err == nil {
		t.Fatal("statistics of a plain connection")
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
