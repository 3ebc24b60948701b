package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/softfk/softfk/config"
)

// Startup packet codes (the int32 after the length of an untyped packet).
const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
	protocolMajor3    = 3
)

// upstreamDialer opens connections to the real Postgres, negotiating TLS as
// upstream_tls asks.
type upstreamDialer struct {
	addr    string
	mode    config.UpstreamTLS
	tlsConf *tls.Config // nil when mode is disable
	timeout time.Duration
}

func newUpstreamDialer(cfg *config.Config) (*upstreamDialer, error) {
	d := &upstreamDialer{addr: cfg.Upstream, mode: cfg.UpstreamTLS, timeout: 10 * time.Second}
	if d.mode == config.UpstreamTLSDisable || strings.HasPrefix(d.addr, "/") {
		return d, nil
	}
	host, _, err := net.SplitHostPort(d.addr)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", d.addr, err)
	}
	d.tlsConf = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if d.mode == config.UpstreamTLSVerifyFull {
		pem, err := os.ReadFile(cfg.UpstreamCAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream_ca_file %s: no PEM certificates found", cfg.UpstreamCAFile)
		}
		d.tlsConf.RootCAs = pool
	} else {
		// prefer and require encrypt without checking the certificate,
		// exactly as libpq's sslmode of the same names.
		d.tlsConf.InsecureSkipVerify = true
	}
	return d, nil
}

// dial connects to the upstream and negotiates TLS.
func (d *upstreamDialer) dial(ctx context.Context) (net.Conn, error) {
	network, addr := "tcp", d.addr
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	dialer := net.Dialer{Timeout: d.timeout, KeepAlive: 30 * time.Second}
	conn, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if d.tlsConf == nil {
		return conn, nil
	}
	deadline := time.Now().Add(d.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	tconn, err := d.negotiateTLS(conn, deadline)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tconn, nil
}

// negotiateTLS sends SSLRequest and upgrades the connection when the server
// agrees, by deadline; prefer falls back to plain text, require and
// verify-full fail.
func (d *upstreamDialer) negotiateTLS(conn net.Conn, deadline time.Time) (net.Conn, error) {
	conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:], 8)
	binary.BigEndian.PutUint32(req[4:], codeSSLRequest)
	if _, err := conn.Write(req[:]); err != nil {
		return nil, err
	}
	var answer [1]byte
	if _, err := io.ReadFull(conn, answer[:]); err != nil {
		return nil, err
	}
	switch answer[0] {
	case 'S':
		tconn := tls.Client(conn, d.tlsConf)
		if err := tconn.Handshake(); err != nil {
			return nil, fmt.Errorf("TLS handshake with upstream: %w", err)
		}
		return tconn, nil
	case 'N':
		if d.mode == config.UpstreamTLSPrefer {
			return conn, nil
		}
		return nil, fmt.Errorf("upstream does not support TLS but upstream_tls is %s", d.mode)
	default:
		return nil, fmt.Errorf("unexpected answer %q to SSLRequest from upstream", answer[0])
	}
}

// forwardCancel delivers a client's CancelRequest packet (length included)
// to the upstream on a fresh connection, as Postgres expects.
func (d *upstreamDialer) forwardCancel(ctx context.Context, packet []byte) error {
	conn, err := d.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(d.timeout))
	if _, err := conn.Write(packet); err != nil {
		return err
	}
	// The server closes the connection once it has handled the request;
	// waiting for that keeps the cancel ordered before our own close.
	io.Copy(io.Discard, conn)
	return nil
}
