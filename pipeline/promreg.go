package pipeline

import "github.com/prometheus/client_golang/prometheus"

// Registerer returns s.Metrics, or a private registry that nobody collects when it is nil
// (a Stage built by hand), so that a stage can always register its metrics.
func (s Stage) Registerer() prometheus.Registerer {
	if s.Metrics != nil {
		return s.Metrics
	}
	return prometheus.NewRegistry()
}

// StageMetrics returns the gatherer of the metrics the stages registered through
// Stage.Metrics (each labelled stage=<id>). The runner's own counters are not in it: they
// are read through Stats and RunnerStats (see package pipeline/metrics, which serves both).
func (r *Runner) StageMetrics() prometheus.Gatherer { return r.metrics }
