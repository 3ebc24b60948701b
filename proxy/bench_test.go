package proxy

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"go.uber.org/zap"

	"github.com/softfk/softfk/config"
)

// fakeUpstream is a minimal Postgres backend: trust authentication, and an
// answer of one row to every simple Query or extended Sync. It isolates the
// proxy's own cost from the database's in benchmarks.
func fakeUpstream(tb testing.TB) string {
	return fakeBackend(tb, serveFake)
}

// fakeBackend listens on a loopback port until the test ends and serves
// each connection with serve; it returns the address.
func fakeBackend(tb testing.TB, serve func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(conn)
		}
	}()
	return ln.Addr().String()
}

func serveFake(conn net.Conn) {
	defer conn.Close()
	be := pgproto3.NewBackend(conn, conn)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	be.Flush()
	row := &pgproto3.DataRow{Values: [][]byte{[]byte("4242")}}
	desc := &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("abalance"), DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1}}}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch msg.(type) {
		case *pgproto3.Query:
			be.Send(desc)
			be.Send(row)
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
		case *pgproto3.Bind:
			be.Send(&pgproto3.BindComplete{})
		case *pgproto3.Execute:
			be.Send(row)
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
		case *pgproto3.Sync:
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
		case *pgproto3.Terminate:
			return
		}
	}
}

// startBenchProxy runs a pass-through proxy in front of upstream.
func startBenchProxy(tb testing.TB, upstream string) string {
	_, addr := startPassThrough(tb, upstream)
	return addr
}

// startPassThrough runs a pass-through proxy in front of upstream until
// the test ends; it returns the server and its address.
func startPassThrough(tb testing.TB, upstream string) (*Server, string) {
	tb.Helper()
	cfg := config.Default()
	cfg.Upstream = upstream
	cfg.UpstreamTLS = config.UpstreamTLSDisable
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { ln.Close() })
	return srv, ln.Addr().String()
}

// benchClient is a connected, authenticated frontend.
func benchClient(tb testing.TB, addr string) (net.Conn, *pgproto3.Frontend) {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	fe := pgproto3.NewFrontend(conn, conn)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "bench"}})
	if err := fe.Flush(); err != nil {
		tb.Fatal(err)
	}
	waitReady(tb, fe)
	return conn, fe
}

func waitReady(tb testing.TB, fe *pgproto3.Frontend) {
	for {
		msg, err := fe.Receive()
		if err != nil {
			tb.Fatal(err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			return
		}
	}
}

// benchRoundTrips sends b.N prepared-statement executions (Bind, Execute,
// Sync) and waits for each answer, as pgbench -M prepared does.
func benchRoundTrips(b *testing.B, addr string) {
	conn, fe := benchClient(b, addr)
	defer conn.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fe.Send(&pgproto3.Bind{PreparedStatement: "P0_1", Parameters: [][]byte{[]byte("12345")}})
		fe.Send(&pgproto3.Execute{})
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			b.Fatal(err)
		}
		waitReady(b, fe)
	}
}

// BenchmarkRelayDirect is the baseline: the client talks to the fake
// upstream with no proxy.
func BenchmarkRelayDirect(b *testing.B) {
	benchRoundTrips(b, fakeUpstream(b))
}

// BenchmarkRelayThroughSoftfk is the same workload through the proxy; the
// difference per operation is softfk's pass-through cost.
func BenchmarkRelayThroughSoftfk(b *testing.B) {
	benchRoundTrips(b, startBenchProxy(b, fakeUpstream(b)))
}

// BenchmarkRelaySimpleQuery is pgbench -M simple's shape through softfk.
func BenchmarkRelaySimpleQuery(b *testing.B) {
	conn, fe := benchClient(b, startBenchProxy(b, fakeUpstream(b)))
	defer conn.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fe.Send(&pgproto3.Query{String: "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;"})
		if err := fe.Flush(); err != nil {
			b.Fatal(err)
		}
		waitReady(b, fe)
	}
}

// BenchmarkIdleSessionMemory reports the memory softfk holds per idle,
// authenticated session (heap plus goroutine stacks). The clients and the
// fake upstream live in this process too, so their share is measured first
// with direct connections and subtracted.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const sessions = 500
	upstream := fakeUpstream(b)
	proxied := startBenchProxy(b, upstream)
	for i := 0; i < b.N; i++ {
		direct := idleMemory(b, upstream, sessions)
		through := idleMemory(b, proxied, sessions)
		b.ReportMetric(float64(through-direct)/sessions, "bytes/idle-session")
	}
}

// idleMemory opens n idle sessions to addr (each has run one query) and
// returns the memory they hold.
func idleMemory(b *testing.B, addr string, n int) int64 {
	before := memInUse()
	conns := make([]net.Conn, 0, n)
	for j := 0; j < n; j++ {
		conn, fe := benchClient(b, addr)
		fe.Send(&pgproto3.Query{String: "SELECT 1"})
		fe.Flush()
		waitReady(b, fe)
		conns = append(conns, conn)
	}
	time.Sleep(100 * time.Millisecond)
	used := int64(memInUse()) - int64(before)
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	return used
}

// memInUse is the heap and stack memory in use after a collection. The
// fake upstream and the clients live in this process too; their share is
// included, so the figure is an upper bound for softfk alone.
func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
