package kafka

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// outageReminder is how often a failure that lasts is logged again.
const outageReminder = 30 * time.Second

// outage logs one kind of failure (reading metadata, a missing topic, joining the group,
// fetching) without flooding: once when it starts, a reminder at most every outageReminder
// while it lasts, and one line when it ends; the attempts in between are logged at debug
// level. A failure is keyed (by partition for fetches, "" otherwise): the outage lasts
// while any key fails, so a broker outage seen by every partition is one outage.
type outage struct {
	log   *zap.Logger
	level zapcore.Level // of the first line and the reminders
	// The first line, the reminders, the debug lines and the recovery line.
	failMsg, remindMsg, debugMsg, okMsg string
	now                                 func() time.Time

	active atomic.Bool // some key fails (lets ok skip the lock on the hot path)

	mu      sync.Mutex
	since   time.Time       // zero: no outage
	lastLog time.Time       // of the first line or the last reminder
	failing map[string]bool // keys failing now
}

// newOutage returns the outage of an operation, logged as "<what> failed; retrying ...",
// "<what> still failing" and "<what> succeeds again".
func newOutage(log *zap.Logger, level zapcore.Level, what string) *outage {
	return &outage{log: log, level: level, now: time.Now, failing: map[string]bool{},
		failMsg:   what + " failed; retrying until it succeeds (logged again every 30s while it lasts)",
		remindMsg: what + " still failing; retrying",
		debugMsg:  what + " failed; retrying",
		okMsg:     what + " succeeds again",
	}
}

// fail records a failed attempt for key.
func (o *outage) fail(key string, err error, fields ...zap.Field) {
	now := o.now()
	o.mu.Lock()
	o.failing[key] = true
	o.active.Store(true)
	n := len(o.failing)
	var msg string
	level := o.level
	switch {
	case o.since.IsZero():
		o.since, o.lastLog = now, now
		msg = o.failMsg
	case now.Sub(o.lastLog) >= outageReminder:
		o.lastLog = now
		msg = o.remindMsg
		fields = append(fields, zap.Duration("for", now.Sub(o.since).Round(time.Second)))
	default:
		level = zapcore.DebugLevel
		msg = o.debugMsg
	}
	o.mu.Unlock()
	if ce := o.log.Check(level, msg); ce != nil {
		if key != "" {
			fields = append(fields, zap.String("partition", key), zap.Int("partitions_failing", n))
		}
		ce.Write(append(fields, zap.Error(err))...)
	}
}

// ok records a successful attempt for key; the end of the outage is logged once.
func (o *outage) ok(key string) {
	if !o.active.Load() {
		return
	}
	o.mu.Lock()
	if len(o.failing) == 0 {
		o.mu.Unlock()
		return
	}
	delete(o.failing, key)
	if len(o.failing) == 0 {
		o.active.Store(false)
	}
	if len(o.failing) > 0 || o.since.IsZero() {
		o.mu.Unlock()
		return
	}
	d := o.now().Sub(o.since).Round(time.Millisecond)
	o.since = time.Time{}
	o.mu.Unlock()
	o.log.Info(o.okMsg, zap.Duration("outage", d))
}
