package rocwebsocket

/*
#include "rwsgo.h"
*/
import "C"

import (
	"context"
	"os"
	"unsafe"
)

// TLS options of Options (wss:// listeners). Certificates are PEM files.
//
// With TLSCertFile and TLSKeyFile set, the TLSListen addresses serve wss://,
// or, when TLSListen is empty, every Listen address does. TLSClientCAFile
// makes clients show a certificate issued by one of its CAs (mutual TLS).

// cBytes copies b into C memory (NULL for nil); free with C.free.
func cBytes(b []byte) (*C.char, C.size_t) {
	if b == nil {
		return nil, 0
	}
	return (*C.char)(C.CBytes(b)), C.size_t(len(b))
}

func readOptional(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return os.ReadFile(path)
}

// newTLSServer makes the C certificates of a TLS listener.
func newTLSServer(certFile, keyFile, clientCAFile string) (*C.rws_tls_server, error) {
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	ca, err := readOptional(clientCAFile)
	if err != nil {
		return nil, err
	}
	c, cl := cBytes(cert)
	k, kl := cBytes(key)
	a, al := cBytes(ca)
	defer C.free(unsafe.Pointer(c))
	defer C.free(unsafe.Pointer(k))
	defer C.free(unsafe.Pointer(a))
	r := C.rwsgo_tls_server_new(c, cl, k, kl, a, al)
	if r.server == nil {
		return nil, newError("rws_tls_server_new", ResultInvalidArgument, takeMessage(r.msg))
	}
	return r.server, nil
}

// TLSPort is the TCP port of the first TLS listener (the real one after port 0), or 0.
func (e *Engine) TLSPort() int { return e.tlsPort }

// ReloadCert swaps in a new certificate chain and key (PEM files) for the
// TLS listeners: new handshakes get it, open connections are untouched. On
// error the old one stays.
func (e *Engine) ReloadCert(certFile, keyFile string) error {
	if e.tlsServer == nil {
		return newError("rws_tls_server_reload_files", ResultInvalidArgument, "the engine has no TLS listener")
	}
	c, k := C.CString(certFile), C.CString(keyFile)
	defer C.free(unsafe.Pointer(c))
	defer C.free(unsafe.Pointer(k))
	return e.call("rws_tls_server_reload_files", func() C.rwsgo_res {
		return C.rwsgo_tls_server_reload(e.tlsServer, c, k)
	})
}

// DialTLS are the wss:// options of DialWith, named like crypto/tls's.
type DialTLS struct {
	// CAFile holds PEM CAs to trust instead of the system's store.
	CAFile string
	// CertFile and KeyFile are a client certificate (mutual TLS).
	CertFile, KeyFile string
	// ServerName is sent (SNI) and checked instead of the URL's host.
	ServerName string
	// DangerAcceptInvalidCerts turns certificate checks off (tests only).
	DangerAcceptInvalidCerts bool
}

// DialWith is Dial for wss:// with TLS options. A TLS failure is a
// *ConnectError whose Message starts with "TLS:" (close code 1015).
func (e *Engine) DialWith(ctx context.Context, url string, tls DialTLS) (*Conn, error) {
	return e.DialOptions(ctx, url, &DialOptions{TLS: tls})
}

// newTLSClient makes the C TLS client configuration of tls (the caller frees it).
func newTLSClient(tls DialTLS) (*C.rws_tls_client, error) {
	ca, err := readOptional(tls.CAFile)
	if err != nil {
		return nil, err
	}
	cert, err := readOptional(tls.CertFile)
	if err != nil {
		return nil, err
	}
	key, err := readOptional(tls.KeyFile)
	if err != nil {
		return nil, err
	}
	a, al := cBytes(ca)
	c, cl := cBytes(cert)
	k, kl := cBytes(key)
	r := C.rwsgo_tls_client_new(a, al, c, cl, k, kl, C.bool(tls.DangerAcceptInvalidCerts))
	C.free(unsafe.Pointer(a))
	C.free(unsafe.Pointer(c))
	C.free(unsafe.Pointer(k))
	if r.client == nil {
		return nil, newError("rws_tls_client_new", ResultInvalidArgument, takeMessage(r.msg))
	}
	return r.client, nil
}
