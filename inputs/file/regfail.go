package file

import (
	"time"

	"go.uber.org/zap"
)

// registryFailureReminder is how often a registry that still cannot be written is logged
// again at error level (the attempts in between are logged at debug level).
const registryFailureReminder = 30 * time.Second

// registryFailure tracks an outage of registry writes (disk full, read-only file system,
// ...) so that it is logged loudly when it starts, reminded while it lasts, and its end is
// logged. Meanwhile the input keeps reading and shipping, the tracker keeps the committed
// positions in memory, and the registry on disk keeps the last positions written: a
// restart during the outage sends again, with the same event ids, the lines acknowledged
// since then, never lines before them.
type registryFailure struct {
	since   time.Time // start of the outage; zero when writes succeed
	lastLog time.Time
	errors  int
}

// report is called after each registry write attempt with its result.
func (f *registryFailure) report(log *zap.Logger, path string, err error, now time.Time) {
	if err == nil {
		if !f.since.IsZero() {
			log.Info("the registry is written again; positions are committed",
				zap.String("registry", path), zap.Duration("outage", now.Sub(f.since)), zap.Int("failed_writes", f.errors))
		}
		*f = registryFailure{}
		return
	}
	f.errors++
	if f.since.IsZero() {
		f.since = now
	} else if now.Sub(f.lastLog) < registryFailureReminder {
		log.Debug("cannot write the registry; retrying", zap.String("registry", path), zap.Error(err))
		return
	}
	f.lastLog = now
	log.Error("cannot write the registry: shipping goes on and positions are kept in memory, but the registry on disk keeps its last good positions until a write succeeds (a restart meanwhile re-sends the lines acknowledged since, with the same event ids); free space or fix permissions of the data_dir",
		zap.String("registry", path), zap.Duration("failing_for", now.Sub(f.since)), zap.Int("failed_writes", f.errors), zap.Error(err))
}
