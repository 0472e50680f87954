package pipeline

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential backoff with jitter.
type Backoff struct {
	Initial    time.Duration // first delay; default 100ms
	Max        time.Duration // cap of the delay; default 30s
	Multiplier float64       // growth per attempt; default 2
	// Jitter is the fraction of the delay that is randomised, in [0,1]; default 0.2, so a
	// delay d becomes a random value in [0.8d, 1.2d] (never above Max).
	Jitter float64
	// MaxAttempts stops retrying after that many attempts; 0 retries forever.
	MaxAttempts int
}

// DefaultBackoff is the backoff used where a stage does not configure its own.
var DefaultBackoff = Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	if b.Jitter < 0 || b.Jitter > 1 {
		b.Jitter = DefaultBackoff.Jitter
	}
	return b
}

// Delay returns the delay before retry number attempt (1 for the first retry).
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.withDefaults()
	d := float64(b.Initial)
	for i := 1; i < attempt && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 {
		d += d * b.Jitter * (2*rand.Float64() - 1)
	}
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	return time.Duration(d)
}

// Retry calls fn until it succeeds, returns an error marked Permanent, MaxAttempts is
// reached, or ctx ends. Between attempts it waits Backoff.Delay; onRetry (may be nil) is
// told of each failed attempt and the delay before the next, so the caller can log and count
// it. Retry returns nil, the permanent error, the last error after MaxAttempts, or ctx's
// error wrapped together with the last failure.
func Retry(ctx context.Context, b Backoff, onRetry func(attempt int, err error, delay time.Duration), fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || IsPermanent(err) {
			return err
		}
		if b.MaxAttempts > 0 && attempt >= b.MaxAttempts {
			return err
		}
		if ctx.Err() != nil {
			return &StopError{Cause: context.Cause(ctx), Last: err}
		}
		delay := b.Delay(attempt)
		if onRetry != nil {
			onRetry(attempt, err, delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return &StopError{Cause: context.Cause(ctx), Last: err}
		case <-t.C:
		}
	}
}

// StopError is returned by Retry when its context ended while it was still failing.
type StopError struct {
	Cause error // why the context ended
	Last  error // the last failure
}

func (e *StopError) Error() string {
	return "gave up retrying (" + e.Cause.Error() + "): last error: " + e.Last.Error()
}

// Unwrap exposes both the context's cause and the last failure to errors.Is/As.
func (e *StopError) Unwrap() []error { return []error{e.Cause, e.Last} }
