package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/filewatch"
	"github.com/softfk/softfk/metrics"
	"github.com/softfk/softfk/proxy"
)

// serveFlags are the serve options that override the file.
type serveFlags struct {
	configFile, listen, upstream, mode, logFormat, metricsListen string
	watchConfig                                                  bool
}

// watchDebounce is how long the configuration file must stay quiet after a
// change before it is reloaded (editors write in several steps).
const watchDebounce = 200 * time.Millisecond

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	var f serveFlags
	fs.StringVar(&f.configFile, "config", "", "configuration `file` (YAML)")
	fs.StringVar(&f.listen, "listen", "", "address to accept clients on (overrides the file)")
	fs.StringVar(&f.upstream, "upstream", "", "host:port of the real Postgres (overrides the file)")
	fs.StringVar(&f.mode, "mode", "", "enforce or shadow (overrides the file)")
	fs.StringVar(&f.logFormat, "log-format", "", "json or console (overrides the file)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "address for /metrics and /healthz (overrides the file)")
	fs.BoolVar(&f.watchConfig, "watch-config", false, "reload the configuration file whenever it changes (as watch_config: true)")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	cfg, err := loadServeConfig(f)
	if err != nil {
		fmt.Fprintf(stderr, "softfk serve: %v\n", err)
		return exitUsage
	}
	log, err := newLogger(cfg.LogFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "softfk serve: %v\n", err)
		return exitUsage
	}
	defer log.Sync()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log, func() (*config.Config, error) { return loadServeConfig(f) })
}

// loadServeConfig reads the file (if any) and applies the flag overrides.
func loadServeConfig(f serveFlags) (*config.Config, error) {
	cfg := config.Default()
	if f.configFile != "" {
		var err error
		if cfg, err = config.Load(f.configFile); err != nil {
			return nil, err
		}
	} else if f.listen == "" || f.upstream == "" {
		return nil, fmt.Errorf("give --config FILE, or both --listen and --upstream for a pass-through proxy")
	}
	if f.watchConfig {
		cfg.WatchConfig = true
	}
	if cfg.WatchConfig && f.configFile == "" {
		return nil, fmt.Errorf("--watch-config: there is no configuration file to watch; give --config FILE")
	}
	for _, o := range []struct {
		flag, value string
		apply       func(string) error
	}{
		{"--listen", f.listen, func(v string) error { cfg.Listen = v; return config.CheckAddress(v) }},
		{"--upstream", f.upstream, func(v string) error { cfg.Upstream = v; return config.CheckAddress(v) }},
		{"--metrics-listen", f.metricsListen, func(v string) error { cfg.MetricsListen = v; return config.CheckAddress(v) }},
		{"--mode", f.mode, func(v string) error { return cfg.SetMode(config.Mode(v)) }},
		{"--log-format", f.logFormat, func(v string) error {
			if v != "json" && v != "console" {
				return fmt.Errorf("want json or console, not %q", v)
			}
			cfg.LogFormat = v
			return nil
		}},
	} {
		if o.value == "" {
			continue
		}
		if err := o.apply(o.value); err != nil {
			return nil, fmt.Errorf("%s: %v", o.flag, err)
		}
	}
	return cfg, nil
}

// serve runs the proxy, and the metrics endpoint when metrics_listen is
// set, until ctx ends (SIGINT/SIGTERM); then it drains. SIGHUP, and with
// watch_config every change of the file, reloads the configuration with
// load.
func serve(ctx context.Context, cfg *config.Config, log *zap.Logger, load func() (*config.Config, error)) int {
	var m *metrics.Metrics
	if cfg.MetricsListen != "" {
		m = metrics.New()
	}
	srv, err := proxy.New(cfg, log, proxy.WithMetrics(m))
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	ln, err := srv.Listen()
	if err != nil {
		log.Error("cannot listen", zap.String("listen", cfg.Listen), zap.Error(err))
		return 1
	}
	if m != nil {
		endpoint, err := m.Listen(cfg.MetricsListen, srv.CheckUpstream)
		if err != nil {
			ln.Close()
			log.Error("cannot listen for metrics", zap.String("metrics_listen", cfg.MetricsListen), zap.Error(err))
			return 1
		}
		defer endpoint.Close(context.Background())
		log.Info("metrics listening", zap.String("metrics_listen", endpoint.Addr()))
	}
	var changed <-chan struct{}
	if cfg.WatchConfig {
		w, err := filewatch.Watch(cfg.Source, watchDebounce, func(err error) { log.Warn("watching the configuration file", zap.Error(err)) })
		if err != nil {
			ln.Close()
			log.Error("cannot watch the configuration file", zap.Error(err))
			return 1
		}
		defer w.Close()
		changed = w.Changes()
	}
	log.Info("softfk listening", zap.String("listen", ln.Addr().String()), zap.String("upstream", cfg.Upstream),
		zap.String("mode", string(cfg.Mode)), zap.Int("relationships", len(cfg.Relationships)))

	hangups := make(chan os.Signal, 1)
	signal.Notify(hangups, syscall.SIGHUP)
	defer signal.Stop(hangups)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	for {
		select {
		case err := <-served:
			log.Error("listener failed", zap.Error(err))
			return 1
		case <-hangups:
			reloadConfig(srv, m, log, load, "SIGHUP")
		case <-changed:
			reloadConfig(srv, m, log, load, "file changed")
		case <-ctx.Done():
			log.Info("shutting down: no new connections; open transactions may finish",
				zap.NamedError("cause", context.Cause(ctx)), zap.Duration("grace", cfg.ShutdownGrace))
			shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
			defer cancel()
			srv.Shutdown(shutdownCtx)
			<-served
			log.Info("stopped")
			return 0
		}
	}
}

// reloadConfig is the one way a running proxy takes a new configuration,
// for SIGHUP and the file watcher alike: read and validate it with load,
// then swap it in; when either fails, the error is logged and the previous
// configuration stays in force.
func reloadConfig(srv *proxy.Server, m *metrics.Metrics, log *zap.Logger, load func() (*config.Config, error), trigger string) {
	next, err := load()
	if err == nil {
		err = srv.Reload(next)
	}
	m.Reloaded(err == nil)
	if err != nil {
		log.Error("reload rejected, the previous configuration stays in force", zap.String("trigger", trigger), zap.Error(err))
	}
}

// newLogger builds the zap logger for the chosen format.
func newLogger(format string, w io.Writer) (*zap.Logger, error) {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var encoder zapcore.Encoder
	switch format {
	case "json":
		encoder = zapcore.NewJSONEncoder(enc)
	case "console", "":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	default:
		return nil, fmt.Errorf("unknown log format %q", format)
	}
	return zap.New(zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), zap.InfoLevel)), nil
}
