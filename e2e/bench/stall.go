package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/logpipe/logpipe/e2e/internal/brokerproc"
)

// stallResult is the memory of one process watched while its output was stalled.
type stallResult struct {
	name                string
	backlog             string
	peakKB, firstKB, kB int64 // VmHWM at the end; VmRSS at the first and the last sample
	minKB, maxKB        int64 // VmRSS range over the second half of the watch
}

// stalled measures the bounded-memory promise: with the output stalled and about backlog
// bytes waiting in the file (ship) or the topic (index), RSS must stay bounded and flat.
//
//   - ship: the broker runs for a moment, then is stopped (SIGSTOP): produce requests hang,
//     the queues fill, and the file input must stop reading. The broker is resumed
//     afterwards, and the shipper finishes the file (--once), which fills the topic.
//   - index: the topic now holds the whole backlog; the _bulk endpoint never answers.
//
// RSS is sampled from /proc every 100 ms for watch.
func stalled(logpipe, brokerBin, dir string, backlog int64, watch time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	stallDir, err := os.MkdirTemp(dir, "stall-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stallDir)
	logFile := filepath.Join(stallDir, "access_log")
	size, err := generate(logFile, int(backlog/185)+1)
	if err != nil {
		return err
	}
	fmt.Printf("\nstalled outputs: generated %.0f MB of lines\n", float64(size)/1e6)
	human := fmt.Sprintf("%.1f GB", float64(size)/1e9)

	addr, err := brokerproc.FreeAddr()
	if err != nil {
		return err
	}
	broker, err := brokerproc.Start(ctx, brokerBin, addr, os.Stderr, "kafka_test:3")
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	defer broker.Stop()

	var results []stallResult

	// ship: stall the broker shortly after the start.
	shipCfg, err := writeShipConfig(stallDir, "ship", logFile, addr, "kafka_test", "error", "2s")
	if err != nil {
		return err
	}
	ship := exec.CommandContext(ctx, logpipe, "ship", "--once", "-c", shipCfg)
	ship.Stderr = os.Stderr
	if err := ship.Start(); err != nil {
		return err
	}
	time.Sleep(time.Second) // let it produce for a moment, then stall the broker
	if err := broker.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	r, err := watchRSS(ship.Process.Pid, watch)
	if err != nil {
		return err
	}
	r.name, r.backlog = "ship, broker stopped", human
	results = append(results, r)
	if err := broker.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	start := time.Now()
	if err := ship.Wait(); err != nil {
		return fmt.Errorf("ship after the stall: %w", err)
	}
	fmt.Printf("ship finished the backlog %.1fs after the broker resumed\n", time.Since(start).Seconds())

	// index: the topic holds the backlog; the bulk endpoint never answers.
	sink := &stallSink{release: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sink}
	go srv.Serve(l)
	defer srv.Close()
	defer sink.unblock()
	indexCfg, err := writeIndexConfig(stallDir, "index", addr, "http://"+l.Addr().String(), "kafka_test", "stall", "error", "1s", "")
	if err != nil {
		return err
	}
	index := exec.CommandContext(ctx, logpipe, "index", "-c", indexCfg)
	index.Stderr = io.Discard // it reports the unanswered requests
	if err := index.Start(); err != nil {
		return err
	}
	r, err = watchRSS(index.Process.Pid, watch)
	if err != nil {
		return err
	}
	r.name, r.backlog = "index, _bulk never answers", human
	results = append(results, r)
	_ = index.Process.Signal(syscall.SIGTERM)
	sink.unblock()
	_ = index.Wait()

	fmt.Printf("\nwatched %s after the stall, RSS sampled every 100 ms\n\n", watch)
	fmt.Println("| stalled process | backlog | peak RSS | RSS, first sample | RSS range, 2nd half | RSS, last sample |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %s | %s | %.0f MiB | %.0f MiB | %.0f-%.0f MiB | %.0f MiB |\n", r.name, r.backlog,
			float64(r.peakKB)/1024, float64(r.firstKB)/1024, float64(r.minKB)/1024, float64(r.maxKB)/1024, float64(r.kB)/1024)
	}
	return nil
}

// watchRSS samples the RSS of pid every 100 ms for d.
func watchRSS(pid int, d time.Duration) (stallResult, error) {
	var r stallResult
	start := time.Now()
	for time.Since(start) < d {
		rss, hwm, err := procRSS(pid)
		if err != nil {
			return r, fmt.Errorf("process %d ended while stalled: %w", pid, err)
		}
		if r.firstKB == 0 {
			r.firstKB = rss
		}
		r.kB, r.peakKB = rss, hwm
		if time.Since(start) >= d/2 {
			if r.minKB == 0 || rss < r.minKB {
				r.minKB = rss
			}
			r.maxKB = max(r.maxKB, rss)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r, nil
}

// procRSS reads VmRSS and VmHWM (peak RSS) of pid, in KiB.
func procRSS(pid int) (rss, hwm int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS (exited?)")
	}
	return rss, hwm, sc.Err()
}

// stallSink answers GET / like Elasticsearch and holds every _bulk request until unblock.
type stallSink struct {
	release chan struct{}
	once    sync.Once
}

func (s *stallSink) unblock() { s.once.Do(func() { close(s.release) }) }

func (s *stallSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.Copy(io.Discard, r.Body)
	if strings.HasSuffix(r.URL.Path, "/_bulk") {
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	fmt.Fprint(w, sinkInfo)
}
