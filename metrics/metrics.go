// Package metrics declares every Prometheus metric kinwatch exports, in one place, on a registry of
// its own (not the global one, so tests can start many servers in one process). Components receive
// the struct and update it; they never register metrics themselves.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the collectors.
type Metrics struct {
	Registry *prometheus.Registry

	// Gateway.
	Connections        prometheus.Gauge
	ConnectionsTotal   prometheus.Counter
	ConnectionsRefused *prometheus.CounterVec // by reason
	FramesIn           *prometheus.CounterVec // by type
	FramesOut          *prometheus.CounterVec // by type
	DecodeErrors       *prometheus.CounterVec // by reason
	LengthMismatches   prometheus.Counter
	BytesIn            prometheus.Counter
	BytesOut           prometheus.Counter
	RateLimited        prometheus.Counter
	CommandsSent       prometheus.Counter
	CommandResults     *prometheus.CounterVec // by final state
	// NotCollected counts a watch's data not collected, by the purpose whose consent was missing
	// ("unbound" for a watch no guardian bound; "store" for records the store dropped on writing).
	NotCollected *prometheus.CounterVec
	// RetentionDeleted counts records the retention job deleted, by retention class.
	RetentionDeleted *prometheus.CounterVec

	// Storage writer.
	QueueDepth    prometheus.GaugeFunc
	BatchSize     prometheus.Histogram
	BatchLatency  prometheus.Histogram
	BatchErrors   prometheus.Counter
	RecordsStored *prometheus.CounterVec // by kind
}

// New creates and registers the collectors. depth reports the bus queue depth.
func New(depth func() float64) *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{Registry: r}
	m.Connections = prometheus.NewGauge(prometheus.GaugeOpts{Name: "kinwatch_gateway_connections", Help: "Watch connections open now."})
	m.ConnectionsTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "kinwatch_gateway_connections_total", Help: "Watch connections accepted."})
	m.ConnectionsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinwatch_gateway_connections_refused_total", Help: "Watch connections refused or dropped, by reason."}, []string{"reason"})
	m.FramesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinwatch_gateway_frames_in_total", Help: "Frames received from watches, by message type."}, []string{"type"})
	m.FramesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinwatch_gateway_frames_out_total", Help: "Frames sent to watches, by message type."}, []string{"type"})
	m.DecodeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinwatch_gateway_decode_errors_total", Help: "Frames that could not be decoded, by reason."}, []string{"reason"})
	m.LengthMismatches = prometheus.NewCounter(prometheus.CounterOpts{Name: "kinwatch_gateway_length_mismatches_total", Help: "Frames whose LEN field disagrees with their content (common; informational)."})
	m.BytesIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "kinwatch_gateway_bytes_in_total", Help: "Bytes read from watches."})
	m.BytesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "kinwatch_gateway_bytes_out_total", Help: "Bytes written to watches."})
	m.RateLimited = prometheus.NewCounter(prometheus.CounterOpts{Name: "kinwatch_gateway_rate_limited_total", Help: "Frames dropped because a watch exceeded its frame rate."})
	m.CommandsSent = prometheus.NewCounter(prometheus.CounterOpts{Name: "kinwatch_commands_sent_total", Help: "Command frames written to watches (including resends)."})
	m.NotCollected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinwatch_records_not_collected_total", Help: "Watch data not collected for want of a binding or consent, by the purpose missing."}, []string{"purpose"})
	m.RetentionDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinwatch_retention_deleted_total", Help: "Records deleted because they outlived their retention, by class."}, []string{"class"})
	m.CommandResults = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinwatch_commands_finished_total", Help: "Commands that reached a final state, by state."}, []string{"state"})
	m.QueueDepth = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kinwatch_ingest_queue_depth", Help: "Records waiting for the storage writer."}, depth)
	m.BatchSize = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kinwatch_ingest_batch_records", Help: "Records per storage transaction.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)})
	m.BatchLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kinwatch_ingest_batch_seconds", Help: "Time to commit one storage batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.BatchErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "kinwatch_ingest_batch_errors_total", Help: "Storage batches that failed (each is retried before publishers are failed)."})
	m.RecordsStored = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinwatch_ingest_records_total", Help: "Records committed, by kind."}, []string{"kind"})
	for _, c := range []prometheus.Collector{m.Connections, m.ConnectionsTotal, m.ConnectionsRefused, m.FramesIn, m.FramesOut, m.DecodeErrors, m.LengthMismatches, m.BytesIn, m.BytesOut, m.RateLimited, m.CommandsSent, m.CommandResults, m.NotCollected, m.RetentionDeleted, m.QueueDepth, m.BatchSize, m.BatchLatency, m.BatchErrors, m.RecordsStored} {
		f(c)
	}
	return m
}
