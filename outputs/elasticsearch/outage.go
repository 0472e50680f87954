package elasticsearch

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultOutageReminder is how often a condition that holds documents back (Elasticsearch
// unreachable, documents refused, the dead-letter queue full) is logged again while it lasts.
const DefaultOutageReminder = 30 * time.Second

// outage logs one condition that holds documents back without flooding the log, as the
// kafka output does for its broker: the first failure is logged (at level), then a reminder
// at most every remind while the condition lasts (at error level), and its end once, with
// its length. The other failures are logged at debug level.
//
// Several holders (requests, template installs) may be held by the same condition at once:
// each calls enter when it is first held, fail for every failed attempt, and leave when it
// is no longer held (recovered false when it gave up, e.g. at Close). The condition ends
// when the last holder leaves having recovered.
type outage struct {
	log      *zap.Logger
	first    string // message of the first line
	reminder string // message of the reminders
	recovery string // message of the recovery line
	remind   time.Duration

	mu       sync.Mutex
	holders  int
	since    time.Time // start of the current outage; zero when none
	lastLog  time.Time
	failures int // failed attempts during the current outage
}

func newOutage(log *zap.Logger, first, reminder, recovery string) *outage {
	return &outage{log: log, first: first, reminder: reminder, recovery: recovery, remind: DefaultOutageReminder}
}

// enter records one more holder.
func (o *outage) enter() {
	o.mu.Lock()
	o.holders++
	o.mu.Unlock()
}

// fail records a failed attempt and logs it as the first line of an outage (at level), as a
// reminder, or at debug level. fields describe the failure.
func (o *outage) fail(level zapcore.Level, fields ...zap.Field) {
	o.mu.Lock()
	now := time.Now()
	o.failures++
	var msg string
	switch {
	case o.since.IsZero():
		o.since, o.lastLog, o.failures = now, now, 1
		msg = o.first
	case now.Sub(o.lastLog) >= o.remind:
		o.lastLog = now
		level = zapcore.ErrorLevel
		msg = o.reminder
		fields = append(fields, zap.Duration("outage", now.Sub(o.since).Round(time.Millisecond)), zap.Int("failed_attempts", o.failures))
	default:
		level = zapcore.DebugLevel
		msg = o.reminder
	}
	o.mu.Unlock()
	o.log.Log(level, msg, fields...)
}

// leave removes a holder; when the last one leaves after recovering, the end of the outage
// is logged (if there was one).
func (o *outage) leave(recovered bool, fields ...zap.Field) {
	o.mu.Lock()
	o.holders--
	if o.holders > 0 || o.since.IsZero() {
		o.mu.Unlock()
		return
	}
	since, failures := o.since, o.failures
	o.since, o.failures = time.Time{}, 0
	o.mu.Unlock()
	if !recovered {
		return
	}
	o.log.Info(o.recovery, append(fields, zap.Duration("outage", time.Since(since).Round(time.Millisecond)),
		zap.Int("failed_attempts", failures))...)
}

// active reports whether an outage is under way.
func (o *outage) active() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.since.IsZero()
}
