// Command esserver runs the estest Elasticsearch stand-in as a program, for demos and
// benchmarks that need an Elasticsearch-like peer without installing Elasticsearch.
//
//	esserver -listen 127.0.0.1:9200 [-reject 0.1] [-max-content-length 104857600]
//
// It prints "ready http://ADDR" once it listens, a summary of the stored documents per index
// every -report interval (and on exit), and stops on SIGINT/SIGTERM. Documents are kept in
// memory only.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/logpipe/logpipe/e2e/estest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9200", "address to listen on")
	reject := flag.Float64("reject", 0, "fraction of bulk items answered 429 es_rejected_execution_exception")
	maxContent := flag.Int("max-content-length", estest.DefaultMaxContentLength, "http.max_content_length in bytes")
	user := flag.String("username", "", "require basic auth with this user")
	pass := flag.String("password", "", "password for -username")
	report := flag.Duration("report", 10*time.Second, "interval of the per-index summary (0: only on exit)")
	flag.Parse()

	s := estest.New(estest.Options{Addr: *listen, MaxContentLength: *maxContent, Username: *user, Password: *pass})
	if err := s.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "esserver:", err)
		os.Exit(1)
	}
	s.RejectItems(*reject)
	fmt.Println("ready", s.URL())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	var tick <-chan time.Time
	if *report > 0 {
		t := time.NewTicker(*report)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			summary(s)
		case <-sig:
			summary(s)
			s.Close()
			return
		}
	}
}

func summary(s *estest.Server) {
	st := s.Stats()
	fmt.Printf("bulk requests %d, items %d, created %d, conflicts %d, rejected %d, parse failures %d\n",
		st.BulkRequests, st.Items, st.Created, st.Conflicts, st.Rejected, st.ParseFailures)
	for _, idx := range s.Indices() {
		fmt.Printf("  %s: %d documents\n", idx, s.Count(idx))
	}
}
