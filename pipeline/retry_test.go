package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

var errTransient = errors.New("connection refused")

// fastBackoff keeps retry tests quick; the delays are not what the tests assert on.
var fastBackoff = Backoff{Initial: time.Microsecond, Max: 10 * time.Microsecond, Multiplier: 2, Jitter: 0.2}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	calls := 0
	var retries []int
	err := Retry(context.Background(), fastBackoff, func(attempt int, err error, delay time.Duration) {
		retries = append(retries, attempt)
		if !errors.Is(err, errTransient) || delay <= 0 {
			t.Errorf("onRetry(%d, %v, %v)", attempt, err, delay)
		}
	}, func(context.Context) error {
		calls++
		if calls < 4 {
			return errTransient
		}
		return nil
	})
	if err != nil || calls != 4 || fmt.Sprint(retries) != "[1 2 3]" {
		t.Fatalf("err %v, calls %d, retries %v", err, calls, retries)
	}
}

func TestRetryPermanentStopsAtOnce(t *testing.T) {
	calls := 0
	bad := errors.New("mapper_parsing_exception")
	err := Retry(context.Background(), fastBackoff, func(int, error, time.Duration) {
		t.Error("onRetry called for a permanent error")
	}, func(context.Context) error {
		calls++
		return fmt.Errorf("item 3: %w", Permanent(bad))
	})
	if calls != 1 || !IsPermanent(err) || !errors.Is(err, bad) {
		t.Fatalf("calls %d, err %v", calls, err)
	}
	if Permanent(nil) != nil || IsPermanent(errTransient) || IsPermanent(nil) {
		t.Fatal("Permanent/IsPermanent edge cases")
	}
}

func TestRetryMaxAttempts(t *testing.T) {
	calls := 0
	b := fastBackoff
	b.MaxAttempts = 3
	err := Retry(context.Background(), b, nil, func(context.Context) error {
		calls++
		return fmt.Errorf("attempt %d: %w", calls, errTransient)
	})
	if calls != 3 || !errors.Is(err, errTransient) || err.Error() != "attempt 3: connection refused" {
		t.Fatalf("calls %d, err %v (want the last error)", calls, err)
	}
}

func TestRetryContextCancel(t *testing.T) {
	t.Run("while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		b := Backoff{Initial: time.Hour, Max: time.Hour} // only cancel can end the wait
		calls := 0
		err := Retry(ctx, b, func(int, error, time.Duration) { cancel() }, func(context.Context) error {
			calls++
			return errTransient
		})
		var stop *StopError
		if !errors.As(err, &stop) || !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) || calls != 1 {
			t.Fatalf("err %v (%T), calls %d", err, err, calls)
		}
	})
	t.Run("during the attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		shutdown := errors.New("SIGTERM")
		err := Retry(ctx, fastBackoff, nil, func(context.Context) error {
			cancel(shutdown)
			return errTransient
		})
		var stop *StopError
		if !errors.As(err, &stop) || !errors.Is(err, shutdown) || stop.Last != errTransient {
			t.Fatalf("err %v", err)
		}
		if err.Error() != "gave up retrying (SIGTERM): last error: connection refused" {
			t.Fatalf("message %q", err.Error())
		}
	})
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, Jitter: 0.2}
	for attempt, base := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: 1600 * time.Millisecond, 6: 2 * time.Second, 50: 2 * time.Second,
	} {
		lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2)
		if hi > b.Max {
			hi = b.Max
		}
		var min, max time.Duration = time.Hour, 0
		for i := 0; i < 2000; i++ {
			d := b.Delay(attempt)
			if d < lo || d > hi {
				t.Fatalf("Delay(%d) = %v, outside [%v, %v]", attempt, d, lo, hi)
			}
			min, max = minDur(min, d), maxDur(max, d)
		}
		// Jitter really spreads the delays (over 2000 draws, well beyond 10% of the range).
		if spread := max - min; spread < (hi-lo)/2 {
			t.Fatalf("Delay(%d) spread %v over 2000 draws, want at least %v", attempt, spread, (hi-lo)/2)
		}
	}
	noJitter := Backoff{Initial: time.Second, Max: 10 * time.Second, Multiplier: 3, Jitter: 0}
	for attempt, want := range []time.Duration{0, time.Second, 3 * time.Second, 9 * time.Second, 10 * time.Second} {
		if attempt == 0 {
			continue
		}
		if got := noJitter.Delay(attempt); got != want {
			t.Fatalf("no jitter: Delay(%d) = %v, want %v", attempt, got, want)
		}
	}
	// Zero values take the defaults.
	if d := (Backoff{}).Delay(1); d < 80*time.Millisecond || d > 120*time.Millisecond {
		t.Fatalf("default Delay(1) = %v", d)
	}
	if d := (Backoff{}).Delay(1000); d > DefaultBackoff.Max || d < time.Duration(float64(DefaultBackoff.Max)*0.8) {
		t.Fatalf("default Delay(1000) = %v", d)
	}
}

func minDur(a, b time.Duration) time.Duration { return min(a, b) }
func maxDur(a, b time.Duration) time.Duration { return max(a, b) }
