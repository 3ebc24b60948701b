package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/pgcluster"
)

func TestAuthenticationMethodsAreRelayed(t *testing.T) {
	p := startProxy(t, proxyConfig())
	for _, tc := range []struct{ user, password string }{
		{cluster.User, cluster.Password}, // scram-sha-256
		{md5User, rolePassword},
		{passwordUser, rolePassword},
		{trustUser, ""},
	} {
		t.Run(tc.user, func(t *testing.T) {
			conn := connect(t, pgcluster.DSN(p.Addr, tc.user, tc.password, "postgres"))
			var who string
			if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&who); err != nil || who != tc.user {
				t.Fatalf("current_user %q, %v", who, err)
			}
			if tc.password == "" {
				return
			}
			// A wrong password fails exactly as it does directly.
			_, directErr := pgconn.Connect(context.Background(), pgcluster.DSN(cluster.Addr(), tc.user, "wrong", "postgres"))
			_, proxyErr := pgconn.Connect(context.Background(), pgcluster.DSN(p.Addr, tc.user, "wrong", "postgres"))
			if directErr == nil || proxyErr == nil || describeErr(unwrapPgErr(directErr)) != describeErr(unwrapPgErr(proxyErr)) {
				t.Fatalf("wrong password:\ndirect: %v\nsoftfk: %v", directErr, proxyErr)
			}
		})
	}
}

// unwrapPgErr digs the server's error out of pgconn's connect error.
func unwrapPgErr(err error) error {
	var ce *pgconn.ConnectError
	for err != nil {
		if pe, ok := err.(*pgconn.PgError); ok {
			return pe
		}
		if c, ok := err.(*pgconn.ConnectError); ok {
			ce = c
			err = ce.Unwrap()
			continue
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
	return err
}

// testCerts writes a CA and a certificate for 127.0.0.1 signed by it.
type testCerts struct {
	caFile, certFile, keyFile string
	certPEM, keyPEM           []byte
}

func makeCerts(t *testing.T) testCerts {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "softfk test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	c := testCerts{
		caFile: filepath.Join(dir, "ca.crt"), certFile: filepath.Join(dir, "server.crt"), keyFile: filepath.Join(dir, "server.key"),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	os.WriteFile(c.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	os.WriteFile(c.certFile, c.certPEM, 0o644)
	os.WriteFile(c.keyFile, c.keyPEM, 0o600)
	return c
}

func TestClientTLSTermination(t *testing.T) {
	certs := makeCerts(t)
	cfg := proxyConfig()
	cfg.TLS = &config.TLS{CertFile: certs.certFile, KeyFile: certs.keyFile}
	p := startProxy(t, cfg)
	for _, mode := range []string{"require", "verify-full&sslrootcert=" + certs.caFile, "disable"} {
		t.Run(strings.Split(mode, "&")[0], func(t *testing.T) {
			dsn := strings.Replace(p.DSN("postgres"), "sslmode=disable", "sslmode="+mode, 1)
			conn := connect(t, dsn)
			_, isTLS := conn.PgConn().Conn().(*tls.Conn)
			if isTLS != (mode != "disable") {
				t.Fatalf("sslmode=%s: TLS %v", mode, isTLS)
			}
			mustExec(t, conn, "SELECT 1")
		})
	}
	// Without a certificate configured, softfk declines TLS and a client
	// that prefers it carries on in plain text.
	plain := startProxy(t, proxyConfig())
	conn := connect(t, strings.Replace(plain.DSN("postgres"), "sslmode=disable", "sslmode=prefer", 1))
	if _, isTLS := conn.PgConn().Conn().(*tls.Conn); isTLS {
		t.Fatal("TLS negotiated without a certificate")
	}
}

func TestUpstreamTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("needs its own Postgres")
	}
	certs := makeCerts(t)
	ctx := context.Background()
	own, err := pgcluster.Start(ctx, pgcluster.Options{Auth: "scram-sha-256", TLSCert: certs.certPEM, TLSKey: certs.keyPEM,
		HBA: []string{"hostnossl all all 127.0.0.1/32 reject"}})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	for _, mode := range []config.UpstreamTLS{config.UpstreamTLSRequire, config.UpstreamTLSVerifyFull, config.UpstreamTLSPrefer} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := proxyConfig()
			cfg.Upstream = own.Addr()
			cfg.UpstreamTLS = mode
			cfg.UpstreamCAFile = certs.caFile
			// Client TLS too, with the upstream's own certificate: SCRAM
			// channel binding (tls-server-end-point) then verifies end to
			// end through the relay.
			cfg.TLS = &config.TLS{CertFile: certs.certFile, KeyFile: certs.keyFile}
			p := startProxy(t, cfg)
			conn := connect(t, strings.Replace(pgcluster.DSN(p.Addr, own.User, own.Password, "postgres"), "sslmode=disable", "sslmode=require", 1))
			var ssl bool
			if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
				t.Fatalf("upstream connection not encrypted: %v", err)
			}
			// libpq prefers channel binding when the server offers it.
			host, port, _ := strings.Cut(p.Addr, ":")
			cmd := exec.Command(cluster.Tool("psql"), "-X", "-At", "-h", host, "-p", port, "-U", own.User, "-d", "postgres", "-c", "SELECT 'psql ok'")
			cmd.Env = append(os.Environ(), "PGPASSWORD="+own.Password, "PGSSLMODE=require", "PGCHANNELBINDING=prefer")
			if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "psql ok" {
				t.Fatalf("psql over TLS with SCRAM: %v\n%s", err, out)
			}
		})
	}
	t.Run("different certificate", func(t *testing.T) {
		// With another certificate at softfk, channel binding cannot
		// verify; a client that disables it authenticates fine.
		other := makeCerts(t)
		cfg := proxyConfig()
		cfg.Upstream = own.Addr()
		cfg.UpstreamTLS = config.UpstreamTLSRequire
		cfg.TLS = &config.TLS{CertFile: other.certFile, KeyFile: other.keyFile}
		p := startProxy(t, cfg)
		host, port, _ := strings.Cut(p.Addr, ":")
		cmd := exec.Command(cluster.Tool("psql"), "-X", "-At", "-h", host, "-p", port, "-U", own.User, "-d", "postgres", "-c", "SELECT 'psql ok'")
		cmd.Env = append(os.Environ(), "PGPASSWORD="+own.Password, "PGSSLMODE=require", "PGCHANNELBINDING=disable")
		if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "psql ok" {
			t.Fatalf("psql with channel_binding=disable: %v\n%s", err, out)
		}
	})
	t.Run("require against a server without TLS", func(t *testing.T) {
		cfg := proxyConfig()
		cfg.UpstreamTLS = config.UpstreamTLSRequire
		p := startProxy(t, cfg)
		_, err := pgconn.Connect(ctx, p.DSN("postgres"))
		if err == nil || !strings.Contains(err.Error(), "does not support TLS") {
			t.Fatalf("want a clear refusal, got %v", err)
		}
	})
}
