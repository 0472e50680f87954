// Package metrics serves a running pipeline's observability endpoints over HTTP, as
// configured by the root block `metrics { address = "127.0.0.1:9600" }`:
//
//   - /metrics: Prometheus text format. The runner's counters (pipeline.Runner.Stats and
//     RunnerStats) are read at scrape time by a Collector, so the batch path only ever
//     touches atomics; the stages' own metrics (registered through pipeline.Stage.Metrics,
//     labelled stage=<id>), the Go runtime and the process metrics are served alongside.
//   - /healthz: 200 while the process serves HTTP (liveness).
//   - /readyz: 200 when the pipeline runs and every output implementing pipeline.Readiness
//     reports ready, else 503 with one reason per line (readiness).
//
// Metric names and labels are listed in the README (Operations).
package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// DefaultAddress is where the endpoints listen when the metrics block gives no address.
const DefaultAddress = pipeline.DefaultMetricsAddress

// Server is a running metrics endpoint. Create it with Serve and stop it with Stop.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
	err  error // of http.Server.Serve, read after done is closed
}

// Source is what the endpoints read: a *pipeline.Runner, or something that forwards to the
// runner of the moment (a process that reloads its configuration replaces its runner).
type Source interface {
	Stats() []pipeline.StageStats
	RunnerStats() pipeline.RunnerStats
	Ready(ctx context.Context) error
	StageMetrics() prometheus.Gatherer
}

var _ Source = (*pipeline.Runner)(nil)

// BuildInfo returns the collector of logpipe_build_info{version,goversion}, a gauge of 1
// naming the running build (join it to other series to see which version runs where).
func BuildInfo(version string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "logpipe_build_info",
		Help:        "A constant 1, labelled with the version of logpipe and of Go it was built with.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Serve listens on addr (host:port; port 0 picks a free port, see Addr) and serves
// /metrics, /healthz and /readyz for r until Stop is called. ctx is the parent of every
// request's context: cancelling it interrupts requests in progress (a slow readiness check),
// not the listener. A listen error (address in use, bad address) is returned at once. extra
// collectors (BuildInfo, ...) are served alongside.
func Serve(ctx context.Context, addr string, r Source, log *zap.Logger, extra ...prometheus.Collector) (*Server, error) {
	if r == nil {
		return nil, errors.New("metrics: no runner")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if addr == "" {
		addr = DefaultAddress
	}
	h, err := Handler(r, log, extra...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w (change `metrics { address = ... }` or stop the process using that port)", addr, err)
	}
	s := &Server{
		ln: ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			BaseContext:       func(net.Listener) context.Context { return ctx },
			ErrorLog:          zap.NewStdLog(log.Named("metrics-http")),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			log.Error("metrics endpoint stopped", zap.String("address", ln.Addr().String()), zap.Error(err))
		}
	}()
	log.Info("metrics endpoint listening", zap.String("address", ln.Addr().String()),
		zap.Strings("paths", []string{"/metrics", "/healthz", "/readyz"}))
	return s, nil
}

// Addr is the address the server listens on (with the port chosen when addr had port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop stops accepting connections and waits for requests in progress until ctx ends, then
// closes the remaining connections. It returns when the serving goroutine has ended.
func (s *Server) Stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.done
	return errors.Join(err, s.err)
}

// Handler returns the HTTP handler of the three endpoints for r, for embedding in another
// server. It registers a Collector for r, the Go and the process collectors and extra in a
// new registry and serves them together with r's stage metrics (read from r at each scrape).
func Handler(r Source, log *zap.Logger, extra ...prometheus.Collector) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	for _, c := range append([]prometheus.Collector{
		NewCollector(r),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}, extra...) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	metricsHandler := promhttp.InstrumentMetricHandler(reg,
		promhttp.HandlerFor(prometheus.Gatherers{reg, stageGatherer{r}}, promhttp.HandlerOpts{
			ErrorLog:      zapPromLogger{log},
			ErrorHandling: promhttp.ContinueOnError,
			Timeout:       20 * time.Second,
		}))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := r.Ready(req.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready:\n")
			for _, line := range strings.Split(err.Error(), "\n") {
				io.WriteString(w, "  "+line+"\n")
			}
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "logpipe: /metrics /healthz /readyz\n")
	})
	return mux, nil
}

// stageGatherer gathers the stage metrics of the source's runner of the moment.
type stageGatherer struct{ r Source }

func (g stageGatherer) Gather() ([]*dto.MetricFamily, error) { return g.r.StageMetrics().Gather() }

// zapPromLogger adapts zap to promhttp.Logger (errors while gathering or writing metrics).
type zapPromLogger struct{ log *zap.Logger }

func (l zapPromLogger) Println(v ...any) {
	l.log.Warn("serving /metrics: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
