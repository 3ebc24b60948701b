package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/softfk/softfk/config"
	"github.com/softfk/softfk/proxy"
)

// serveFlags are the serve options that override the file.
type serveFlags struct {
	configFile, listen, upstream, mode, logFormat, metricsListen string
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	var f serveFlags
	fs.StringVar(&f.configFile, "config", "", "configuration `file` (YAML)")
	fs.StringVar(&f.listen, "listen", "", "address to accept clients on (overrides the file)")
	fs.StringVar(&f.upstream, "upstream", "", "host:port of the real Postgres (overrides the file)")
	fs.StringVar(&f.mode, "mode", "", "enforce or shadow (overrides the file)")
	fs.StringVar(&f.logFormat, "log-format", "", "json or console (overrides the file)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "address for /metrics and /healthz (overrides the file)")
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
	return serve(cfg, log, func() (*config.Config, error) { return loadServeConfig(f) })
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

// serve runs the proxy until SIGINT/SIGTERM ends it; SIGHUP reloads the
// configuration with reload.
func serve(cfg *config.Config, log *zap.Logger, reload func() (*config.Config, error)) int {
	srv, err := proxy.New(cfg, log)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	ln, err := srv.Listen()
	if err != nil {
		log.Error("cannot listen", zap.String("listen", cfg.Listen), zap.Error(err))
		return 1
	}
	log.Info("softfk listening", zap.String("listen", ln.Addr().String()), zap.String("upstream", cfg.Upstream),
		zap.String("mode", string(cfg.Mode)), zap.Int("relationships", len(cfg.Relationships)))

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	for {
		select {
		case err := <-served:
			log.Error("listener failed", zap.Error(err))
			return 1
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				next, err := reload()
				if err != nil {
					log.Error("reload rejected, the previous configuration stays in force", zap.Error(err))
					continue
				}
				srv.Reload(next)
				continue
			}
			log.Info("shutting down: no new connections; open transactions may finish",
				zap.String("signal", sig.String()), zap.Duration("grace", cfg.ShutdownGrace))
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
			defer cancel()
			srv.Shutdown(ctx)
			<-served
			log.Info("stopped")
			return 0
		}
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
