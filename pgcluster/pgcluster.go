// Package pgcluster starts and stops throwaway PostgreSQL servers from the
// local installation: one per test binary, and the one behind softfk demo.
// Each lives in its own temporary directory on a free TCP port and is
// stopped by its process id, never by name.
package pgcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options shape a new cluster.
type Options struct {
	// Auth is the TCP authentication method: "scram-sha-256" (default),
	// "md5", "password" or "trust".
	Auth string
	// Settings are extra server settings (name → value).
	Settings map[string]string
	// HBA lines are put first in pg_hba.conf (e.g. to give one role md5).
	HBA []string
	// TLSCert and TLSKey, PEM-encoded, turn on ssl with this certificate.
	TLSCert, TLSKey []byte
}

// Cluster is a running throwaway server.
type Cluster struct {
	Dir      string // temporary directory holding data, socket and log
	BinDir   string // where the server binaries were found
	Host     string
	Port     int
	User     string // superuser name
	Password string // superuser password (empty with trust)
	Version  int    // server major version
	settings map[string]string
	cmd      *exec.Cmd
	waitErr  chan error
}

// ErrNotInstalled means no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("no PostgreSQL server installation found (looked in PATH, pg_config --bindir and /usr/lib/postgresql/*/bin); " +
	"install one, e.g. on Debian or Ubuntu: apt-get install postgresql")

// FindBinDir locates the directory holding initdb and postgres: PATH first,
// then pg_config --bindir, then the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real // a symlink into the real bindir, where psql and pgbench live too
		}
		if dir := filepath.Dir(p); hasServer(dir) {
			return dir, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if hasServer(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if hasServer(dir) {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

func hasServer(dir string) bool {
	return hasFile(filepath.Join(dir, "initdb")) && hasFile(filepath.Join(dir, "postgres"))
}

// versionOf extracts the major version from /usr/lib/postgresql/N/bin.
func versionOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Start initialises and starts a new cluster. Stop it when done.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	if opts.Auth == "" {
		opts.Auth = "scram-sha-256"
	}
	dir, err := os.MkdirTemp("", "softfk-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, BinDir: bin, Host: "127.0.0.1", User: "postgres"}
	if opts.Auth != "trust" {
		c.Password = randomPassword()
	}
	if err := c.initdb(opts.Auth); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.configure(opts); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var startErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		if startErr = c.start(ctx, port); startErr == nil {
			return c, nil
		}
	}
	os.RemoveAll(dir)
	return nil, startErr
}

func randomPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// runAs returns the credentials to run server binaries with: initdb and
// postgres refuse to run as root, so root runs them as user postgres.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a 'postgres' user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// initdb creates the data directory with the superuser's password.
func (c *Cluster) initdb(auth string) error {
	cred, err := runAs()
	if err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(c.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	args := []string{"-D", c.dataDir(), "-U", c.User, "--auth-local=trust", "--auth-host=" + auth,
		"--encoding=UTF8", "--locale=C", "--no-sync"}
	if c.Password != "" {
		pwfile := filepath.Join(c.Dir, "pwfile")
		if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
			return err
		}
		if cred != nil {
			os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
		}
		args = append(args, "--pwfile="+pwfile)
		defer os.Remove(pwfile)
	}
	cmd := exec.Command(filepath.Join(c.BinDir, "initdb"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

// LogFile is the server's log.
func (c *Cluster) LogFile() string { return filepath.Join(c.Dir, "postgres.log") }

// configure writes the HBA lines and TLS files and records the settings.
func (c *Cluster) configure(opts Options) error {
	cred, err := runAs()
	if err != nil {
		return err
	}
	writeOwned := func(name string, data []byte) error {
		path := filepath.Join(c.dataDir(), name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
		if cred != nil {
			return os.Chown(path, int(cred.Uid), int(cred.Gid))
		}
		return nil
	}
	if len(opts.HBA) > 0 {
		hba, err := os.ReadFile(filepath.Join(c.dataDir(), "pg_hba.conf"))
		if err != nil {
			return err
		}
		if err := writeOwned("pg_hba.conf", []byte(strings.Join(opts.HBA, "\n")+"\n"+string(hba))); err != nil {
			return err
		}
	}
	c.settings = map[string]string{}
	for k, v := range opts.Settings {
		c.settings[k] = v
	}
	if opts.TLSCert != nil {
		if err := writeOwned("server.crt", opts.TLSCert); err != nil {
			return err
		}
		if err := writeOwned("server.key", opts.TLSKey); err != nil {
			return err
		}
		c.settings["ssl"] = "on"
	}
	return nil
}

// Restart stops the server and starts it again on the same port, as an
// upstream restart looks to softfk.
func (c *Cluster) Restart(ctx context.Context) error {
	c.stopServer()
	return c.start(ctx, c.Port)
}

// start launches the server on port and waits until it accepts connections.
func (c *Cluster) start(ctx context.Context, port int) error {
	c.Port = port
	cred, err := runAs()
	if err != nil {
		return err
	}
	all := map[string]string{
		"listen_addresses":        c.Host,
		"port":                    strconv.Itoa(port),
		"unix_socket_directories": c.Dir,
		"max_connections":         "300",
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"shared_buffers":          "128MB",
	}
	for k, v := range c.settings {
		all[k] = v
	}
	args := []string{"-D", c.dataDir()}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+all[k])
	}
	logf, err := os.OpenFile(c.LogFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(c.BinDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// If this process dies without stopping the server, the kernel stops
	// it (immediate shutdown) instead of leaving it running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	runtime.LockOSThread() // Pdeathsig follows the thread that started the child
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	c.cmd = cmd
	c.waitErr = make(chan error, 1)
	go func() { c.waitErr <- cmd.Wait() }()
	if err := c.waitReady(ctx); err != nil {
		c.stopServer()
		return err
	}
	return nil
}

// waitReady polls until the server accepts connections or exits.
func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.waitErr:
			c.waitErr <- err
			log, _ := os.ReadFile(c.LogFile())
			return fmt.Errorf("postgres exited during startup (%v):\n%s", err, tail(string(log), 2000))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		// The Unix socket uses trust auth whatever the TCP rules say.
		conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=%s dbname=postgres", c.Dir, c.Port, c.User))
		if err == nil {
			var v int
			err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 10000").Scan(&v)
			conn.Close(ctx)
			if err == nil {
				c.Version = v
				return nil
			}
		}
	}
	return fmt.Errorf("postgres did not accept connections within a minute; see %s", c.LogFile())
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Tool returns the path of a client program (psql, pgbench) of the same
// installation, or its name to find in PATH.
func (c *Cluster) Tool(name string) string {
	if p := filepath.Join(c.BinDir, name); hasFile(p) {
		return p
	}
	return name
}

func hasFile(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Addr is the server's host:port.
func (c *Cluster) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// DSN is a connection URL for database db as the superuser.
func (c *Cluster) DSN(db string) string {
	return DSN(c.Addr(), c.User, c.Password, db)
}

// DSN builds a postgres:// URL for addr, without TLS.
func DSN(addr, user, password, db string) string {
	u := url.URL{Scheme: "postgres", Host: addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

// CreateDatabase creates a database owned by the superuser.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Stop shuts the server down (fast shutdown, then immediate after 10 s) and
// removes its directory.
func (c *Cluster) Stop() error {
	c.stopServer()
	return os.RemoveAll(c.Dir)
}

// stopServer stops the server process, if running.
func (c *Cluster) stopServer() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.waitErr:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Signal(syscall.SIGQUIT)
			<-c.waitErr
		}
		c.cmd = nil
	}
}

// FreePort asks the kernel for a currently unused TCP port on 127.0.0.1.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
