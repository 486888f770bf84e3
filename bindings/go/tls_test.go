package rocwebsocket

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePKI makes a CA and a localhost certificate it signed, as PEM files
// in dir: <name>-ca.pem, <name>-cert.pem, <name>-key.pem.
func writePKI(t *testing.T, dir, name string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(file, typ string, der []byte) {
		data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name+"-"+file), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey, leafKey := key(), key()
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("cert.pem", "CERTIFICATE", leafDER)
	write("key.pem", "PRIVATE KEY", keyDER)
}

func TestTLSDialAndReload(t *testing.T) {
	dir := t.TempDir()
	writePKI(t, dir, "a")
	writePKI(t, dir, "b")
	p := func(name string) string { return filepath.Join(dir, name) }

	if _, err := Start(Options{TLSCertFile: p("a-ca.pem"), TLSKeyFile: p("b-key.pem")}); err == nil {
		t.Fatal("a certificate with another key's started")
	}
	srv, err := Start(Options{
		Listen: []string{"127.0.0.1:0"}, TLSListen: []string{"127.0.0.1:0"},
		TLSCertFile: p("a-cert.pem"), TLSKeyFile: p("a-key.pem"), Threads: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept(context.Background())
			if err != nil {
				return
			}
			go echo(c)
		}
	}()
	if srv.TLSPort() == 0 || srv.Port() == 0 || srv.TLSPort() == srv.Port() {
		t.Fatalf("ports: plain %d, TLS %d", srv.Port(), srv.TLSPort())
	}
	cli, err := Start(Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := fmt.Sprintf("wss://localhost:%d/go", srv.TLSPort())
	roundTrip := func(c *Conn, text string) {
		t.Helper()
		if err := c.Write(ctx, MessageText, []byte(text)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil || typ != MessageText || string(got) != text {
			t.Fatalf("echo: %v %v %q", typ, err, got)
		}
	}
	first, err := cli.DialWith(ctx, url, DialTLS{CAFile: p("a-ca.pem")})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(first, "hello over TLS")

	tlsFailure := func(err error, words string) {
		t.Helper()
		var ce *ConnectError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, "TLS: ") || !strings.Contains(ce.Message, words) {
			t.Fatalf("want a TLS ConnectError with %q, got %v", words, err)
		}
	}
	_, err = cli.Dial(ctx, url) // the system's store does not know the test CA
	tlsFailure(err, "")
	_, err = cli.DialWith(ctx, url, DialTLS{CAFile: p("a-ca.pem"), ServerName: "other.example"})
	tlsFailure(err, "not valid for name")

	if err := srv.ReloadCert(p("b-cert.pem"), p("b-key.pem")); err != nil {
		t.Fatal(err)
	}
	if err := srv.ReloadCert(p("missing.pem"), p("b-key.pem")); err == nil {
		t.Fatal("a missing file reloaded")
	}
	roundTrip(first, "the old connection stays")
	second, err := cli.DialWith(ctx, url, DialTLS{CAFile: p("b-ca.pem")})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(second, "new certificate")
	_, err = cli.DialWith(ctx, url, DialTLS{CAFile: p("a-ca.pem")})
	tlsFailure(err, "UnknownIssuer")
}
