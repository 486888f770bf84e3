package rocwebsocket

import (
	"net/url"
	"path"
	"strings"
)

// AcceptOptions decide upgrade requests on the server side without an
// OnUpgrade callback, named as in coder/websocket (Options.Accept).
type AcceptOptions struct {
	// OriginPatterns are host patterns (path.Match syntax, "*.example.com")
	// that a cross-origin request's Origin host may match. A request whose
	// Origin header names another host than its Host header, and matches
	// none of them, is rejected with 403. Requests without Origin (non
	// browsers) pass.
	OriginPatterns []string
	// InsecureSkipVerify accepts every origin (the check is off).
	InsecureSkipVerify bool
	// Subprotocols the server speaks, in preference order: the first one
	// the client offered is chosen (Conn.Subprotocol); none offered or none
	// in common: no subprotocol.
	Subprotocols []string
}

// decide is the OnUpgrade that AcceptOptions stand for.
func (o *AcceptOptions) decide(r *UpgradeRequest) UpgradeDecision {
	if !o.InsecureSkipVerify && !o.originAllowed(r) {
		return RejectUpgrade(403, "origin not allowed")
	}
	for _, want := range o.Subprotocols {
		for _, offered := range r.Protocols {
			if want == offered {
				return AcceptUpgrade(want, nil)
			}
		}
	}
	return AcceptUpgrade("", nil)
}

func (o *AcceptOptions) originAllowed(r *UpgradeRequest) bool {
	origin := r.Origin()
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Header.Get("Host")) {
		return true
	}
	for _, p := range o.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}
