// Package kafka implements the input "kafka": it consumes Kafka topics as a member of a
// consumer group and emits one batch per fetched chunk of one partition.
//
// Group membership uses kafka-go's consumer-group generations (kafka.NewConsumerGroup,
// ConsumerGroup.Next, Generation.Start, Generation.CommitOffsets), because its Reader with a
// GroupID gives no hook when partitions are revoked. For each generation, one goroutine per
// assigned partition fetches from the partition leader over its own kafka.Conn, decodes the
// records with the configured codec and emits batches that never mix partitions. Each
// partition has a pipeline.Tracker; the committed offset of a partition is only ever the
// tracker's low watermark (the offset of the first record not acknowledged by every
// output). Commits happen every commit_interval, at the end of each generation (a
// rebalance) and in Close. A partition's tracker belongs to one generation: acks that
// arrive after the generation ended update a tracker nobody commits any more.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// Register registers the input type "kafka".
func Register(r *pipeline.Registry) {
	r.AddInput(pipeline.Typed[pipeline.Input]("kafka", DefaultConfig, build))
}

func build(cfg *Config, s pipeline.Stage) (pipeline.Input, error) {
	return New(cfg, s)
}

// Input is a running input "kafka". Build it with New.
type Input struct {
	cfg    *Config
	stage  pipeline.Stage
	log    *zap.Logger
	newDec func() pipeline.Decoder // one decoder per partition goroutine
	dialer *kafkago.Dialer
	tr     *kafkago.Transport
	client *kafkago.Client
	// metrics are the input's Prometheus metrics (consumer lag, end-to-end latency).
	metrics *inputMetrics
	// budget bounds the fetched-but-not-emitted data of all partitions (fetch_budget).
	budget *byteBudget
	// fetchBufs are the buffers the partitions' fetches read into.
	fetchBufs fetchBufs
	// dialRaw opens the partitions' fetch connections (fetchConn): the tls block's
	// dialler when there is one.
	dialRaw func(ctx context.Context, network, addr string) (net.Conn, error)
	// Outages, each logged once, with reminders and a recovery line.
	metaOutage, topicOutage, joinOutage, fetchOutage, commitOutage *outage

	// Set by Run before the first generation; read by generation goroutines.
	emit   pipeline.Emit
	runCtx context.Context
	ends   map[topicPartition]int64 // once mode: end offsets seen at start

	fetchers  sync.WaitGroup // partition goroutines, across generations
	closing   atomic.Bool
	closeCh   chan struct{}
	closeOnce sync.Once
	reachedCh chan struct{} // once mode: a partition reached its end offset

	mu      sync.Mutex
	group   *kafkago.ConsumerGroup
	current *generation // the generation whose partitions this member owns; nil between
	// memberID is this member's id in its last generation; kafka-go keeps it while it
	// rejoins, so Close can leave with it when kafka-go cannot (see Close).
	memberID string
}

type topicPartition struct {
	topic     string
	partition int
}

// New builds the input from a validated config.
func New(cfg *Config, s pipeline.Stage) (*Input, error) {
	newDec, err := codecs.ResolveDecoder(s, cfg.Codec)
	if err != nil {
		return nil, err
	}
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	dialer := &kafkago.Dialer{ClientID: cfg.ClientID, Timeout: 10 * time.Second, DualStack: true}
	tr := &kafkago.Transport{ClientID: cfg.ClientID, DialTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second, MetadataTTL: 5 * time.Second}
	if err := secure(cfg, dialer, tr, log); err != nil {
		return nil, err
	}
	in := &Input{
		cfg:       cfg,
		stage:     s,
		log:       log,
		newDec:    newDec,
		dialer:    dialer,
		tr:        tr,
		client:    &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: tr},
		closeCh:   make(chan struct{}),
		reachedCh: make(chan struct{}, 1),
		budget:    newByteBudget(cfg.FetchBudgetBytes),
		fetchBufs: fetchBufs{maxIdle: idleFetchBufs(cfg.FetchBudgetBytes)},
		dialRaw:   dialer.DialFunc,
	}
	if in.dialRaw == nil {
		in.dialRaw = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	in.metaOutage = newOutage(log, zap.WarnLevel, "reading topic metadata from the brokers")
	in.topicOutage = newOutage(log, zap.ErrorLevel, "")
	in.topicOutage.failMsg = "a kafka topic to consume does not exist; waiting for it, retrying (logged again every 30s while it lasts)"
	in.topicOutage.remindMsg = "a kafka topic to consume still does not exist; waiting for it, retrying"
	in.topicOutage.debugMsg = "a kafka topic to consume does not exist; retrying"
	in.topicOutage.okMsg = "the kafka topics to consume exist now"
	in.joinOutage = newOutage(log, zap.WarnLevel, "joining the consumer group")
	in.fetchOutage = newOutage(log, zap.WarnLevel, "fetching from the partition leaders")
	in.commitOutage = newOutage(log, zap.WarnLevel, "committing offsets")
	in.metrics = newInputMetrics(in)
	if err := s.Registerer().Register(in.metrics); err != nil {
		return nil, fmt.Errorf("input kafka: register metrics: %w", err)
	}
	return in, nil
}

// ErrUnknownTopic classifies a configured topic that does not exist (Run waits for it).
var ErrUnknownTopic = errors.New("unknown topic")

// Run joins the consumer group and consumes the assigned partitions until ctx ends or, in
// once mode, until every partition of the topics was consumed up to the end offset seen at
// start (by this member or, as the group's committed offsets show, by another member).
func (in *Input) Run(ctx context.Context, emit pipeline.Emit) error {
	parts, err := in.checkTopics(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	in.log.Info("consuming", zap.Strings("topics", in.cfg.Topics), zap.String("group_id", in.cfg.GroupID),
		zap.Strings("brokers", in.cfg.Brokers), zap.Bool("once", in.stage.Once))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	in.emit = emit
	in.runCtx = runCtx
	if in.stage.Once {
		ends, err := in.endOffsets(runCtx, parts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		in.ends = ends
	}

	group, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                in.cfg.GroupID,
		Brokers:           in.cfg.Brokers,
		Dialer:            in.dialer,
		Topics:            in.cfg.Topics,
		HeartbeatInterval: in.cfg.HeartbeatD,
		SessionTimeout:    in.cfg.SessionTimeoutD,
		RebalanceTimeout:  in.cfg.RebalanceTimeoutD,
		Timeout:           in.cfg.coordinatorTimeout(),
		JoinGroupBackoff:  time.Second,
		// Partitions added to a topic are picked up by a rebalance.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 10 * time.Second,
		StartOffset:            in.cfg.StartAt,
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
			if ce := in.log.Check(zap.DebugLevel, "kafka-go"); ce != nil {
				ce.Write(zap.String("detail", fmt.Sprintf(msg, args...)))
			}
		}),
	})
	if err != nil {
		return pipeline.Permanent(fmt.Errorf("input kafka: consumer group %q: %w", in.cfg.GroupID, err))
	}
	in.mu.Lock()
	in.group = group
	in.mu.Unlock()

	var watch sync.WaitGroup
	if in.stage.Once {
		watch.Add(1)
		go func() {
			defer watch.Done()
			in.watchOnce(runCtx, cancel)
		}()
	}
	failures := 0
	for {
		gen, err := group.Next(runCtx)
		if err != nil {
			if runCtx.Err() != nil || errors.Is(err, kafkago.ErrGroupClosed) {
				break
			}
			failures++
			// kafka-go backs off between attempts itself (JoinGroupBackoff).
			if errors.Is(err, kafkago.RebalanceInProgress) {
				// Another member joined or left: join again.
				in.log.Info("the consumer group is rebalancing; joining again", zap.String("group_id", in.cfg.GroupID))
				continue
			}
			in.joinOutage.fail("", err, zap.Strings("brokers", in.cfg.Brokers), zap.String("group_id", in.cfg.GroupID),
				zap.Int("attempt", failures))
			continue
		}
		failures = 0
		in.joinOutage.ok("")
		in.startGeneration(gen)
	}
	cancel()
	in.fetchers.Wait() // no partition goroutine emits after Run returned
	watch.Wait()
	return nil
}

// Close commits the final positions of the partitions this member still owns, then leaves
// the group (ending the generation) so that the other members take its partitions over at
// once, without waiting for session_timeout. It runs after every emitted batch was
// acknowledged or the drain deadline in ctx passed.
//
// kafka-go's ConsumerGroup.Close ends the generation, waits for the generation's goroutine
// (which commits once more if anything moved) and then sends LeaveGroup. It cannot interrupt
// a JoinGroup in flight, which the coordinator holds until the rebalance completes (up to
// rebalance_timeout and more): when Close finds no current generation (this member is
// rejoining, it has nothing to commit) or ctx is about to end, it sends LeaveGroup itself
// with the member id of the last generation.
func (in *Input) Close(ctx context.Context) error {
	in.closing.Store(true)
	in.closeOnce.Do(func() { close(in.closeCh) })
	in.mu.Lock()
	group, gen, memberID := in.group, in.current, in.memberID
	in.mu.Unlock()
	var errs []error
	if gen != nil {
		err := gen.commit()
		if isFenced(err) {
			in.log.Warn("this member was removed from the group before its final commit; committing as a standalone consumer", zap.Error(err))
			err = gen.commitStandalone(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("input kafka: final commit for group %q: %w", in.cfg.GroupID, err))
		}
	}
	if group != nil {
		done := make(chan struct{})
		go func() {
			// Ends the generation (whose goroutine commits once more if anything moved)
			// and leaves the group.
			_ = group.Close()
			close(done)
		}()
		leaveNow := leaveTimer(ctx, gen == nil && memberID != "")
		defer leaveNow.Stop()
		select {
		case <-done:
		case <-leaveNow.C:
			if err := in.leave(ctx, memberID); err != nil {
				errs = append(errs, fmt.Errorf("input kafka: leaving group %q: %w", in.cfg.GroupID, err))
			}
			// The others take over now. kafka-go ends when its JoinGroup is answered or
			// times out (a coordinator may never answer the JoinGroup of a member that
			// left): nothing of this member waits for it, so Close does not either.
			select {
			case <-done:
			case <-ctx.Done():
			case <-time.After(leaveGrace):
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("input kafka: leaving group %q: %w", in.cfg.GroupID, ctx.Err()))
			if err := in.leave(ctx, memberID); err != nil {
				errs = append(errs, fmt.Errorf("input kafka: leaving group %q: %w", in.cfg.GroupID, err))
			}
		}
	}
	in.tr.CloseIdleConnections()
	return errors.Join(errs...)
}

// leaveGrace is how long Close still waits for kafka-go after it left the group itself.
const leaveGrace = time.Second

// leaveMargin is the part of Close's time kept for sending LeaveGroup when kafka-go did not
// leave by then.
const leaveMargin = 2 * time.Second

// leaveTimer fires when Close should send LeaveGroup itself: at once when now is set, else
// leaveMargin (at most half the time left) before ctx's deadline, or never without one.
func leaveTimer(ctx context.Context, now bool) *time.Timer {
	if now {
		return time.NewTimer(0)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return t
	}
	left := time.Until(dl)
	return time.NewTimer(left - min(leaveMargin, left/2))
}

// leave sends LeaveGroup for memberID over the input's own client. A member id the
// coordinator no longer knows (kafka-go left already, or the member was expired) is not an
// error.
func (in *Input) leave(ctx context.Context, memberID string) error {
	if memberID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveMargin)
	defer cancel()
	res, err := in.client.LeaveGroup(ctx, &kafkago.LeaveGroupRequest{GroupID: in.cfg.GroupID,
		Members: []kafkago.LeaveGroupRequestMember{{ID: memberID}}})
	if err == nil {
		err = res.Error
		for _, m := range res.Members {
			err = errors.Join(err, m.Error)
		}
	}
	switch {
	case errors.Is(err, kafkago.UnknownMemberId):
		return nil
	case err != nil:
		return err
	}
	in.log.Info("left the consumer group", zap.String("group_id", in.cfg.GroupID), zap.String("member_id", memberID))
	return nil
}

// topicBackoff paces the checks of the topics at start: a topic created (or a cluster
// started) while the input waits is seen within 5 s.
var topicBackoff = pipeline.Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}

// checkTopics reads the partitions of every configured topic, retrying while the brokers
// are unreachable and while a topic does not exist (as the kafka output does: no restart
// loop), and saying so once, with a reminder every 30 s and a line when it is resolved.
func (in *Input) checkTopics(ctx context.Context) (map[string][]int, error) {
	var parts map[string][]int
	err := pipeline.Retry(ctx, topicBackoff, func(attempt int, err error, delay time.Duration) {
		fields := []zap.Field{zap.Strings("brokers", in.cfg.Brokers), zap.Int("attempt", attempt), zap.Duration("retry_in", delay)}
		if errors.Is(err, ErrUnknownTopic) {
			in.metaOutage.ok("")
			in.topicOutage.fail("", err, fields...)
			return
		}
		in.metaOutage.fail("", err, fields...)
	}, func(ctx context.Context) error {
		res, err := in.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: in.cfg.Topics})
		if err != nil {
			return fmt.Errorf("brokers %s: %w", strings.Join(in.cfg.Brokers, ","), err)
		}
		parts = map[string][]int{}
		for _, t := range res.Topics {
			if t.Error != nil {
				if errors.Is(t.Error, kafkago.UnknownTopicOrPartition) {
					continue
				}
				return fmt.Errorf("topic %q: %w", t.Name, t.Error)
			}
			for _, p := range t.Partitions {
				parts[t.Name] = append(parts[t.Name], p.ID)
			}
		}
		for _, t := range in.cfg.Topics {
			if len(parts[t]) == 0 {
				return fmt.Errorf("input kafka: %w %q on brokers %s: create it with `logpipe setup --topic` (attributes partitions, replication_factor) or check the topics attribute; consuming starts when it exists",
					ErrUnknownTopic, t, strings.Join(in.cfg.Brokers, ","))
			}
		}
		return nil
	})
	if err == nil {
		in.metaOutage.ok("")
		in.topicOutage.ok("")
	}
	return parts, err
}

// listOffsets returns the first (ts = FirstOffset) or end (ts = LastOffset) offset of each
// partition of topic.
func (in *Input) listOffsets(ctx context.Context, topic string, partitions []int, ts int64) (map[int]int64, error) {
	reqs := make([]kafkago.OffsetRequest, len(partitions))
	for i, p := range partitions {
		reqs[i] = kafkago.OffsetRequest{Partition: p, Timestamp: ts}
	}
	res, err := in.client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := make(map[int]int64, len(partitions))
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		if ts == kafkago.FirstOffset {
			out[po.Partition] = po.FirstOffset
		} else {
			out[po.Partition] = po.LastOffset
		}
	}
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("list offsets of %s/%d: no answer", topic, p)
		}
	}
	return out, nil
}

// endOffsets reads the end offsets (high watermarks) of every partition, for once mode.
func (in *Input) endOffsets(ctx context.Context, parts map[string][]int) (map[topicPartition]int64, error) {
	ends := map[topicPartition]int64{}
	err := pipeline.Retry(ctx, pipeline.DefaultBackoff, func(attempt int, err error, delay time.Duration) {
		in.log.Warn("cannot read end offsets; retrying", zap.Strings("brokers", in.cfg.Brokers),
			zap.Int("attempt", attempt), zap.Error(err))
	}, func(ctx context.Context) error {
		for topic, ps := range parts {
			offs, err := in.listOffsets(ctx, topic, ps, kafkago.LastOffset)
			if err != nil {
				return err
			}
			for p, o := range offs {
				ends[topicPartition{topic, p}] = o
			}
		}
		return nil
	})
	if err == nil {
		in.log.Info("once: consuming up to the end offsets seen at start", zap.Int("partitions", len(ends)))
	}
	return ends, err
}

// watchOnce cancels the run when every partition reached its end offset: a partition
// counts as done when this member's current generation fetched it to its end, or when the
// group's committed offset (from any member) reached the end.
func (in *Input) watchOnce(ctx context.Context, cancel context.CancelFunc) {
	t := time.NewTicker(max(in.cfg.CommitEvery, 100*time.Millisecond))
	defer t.Stop()
	for {
		if in.onceComplete(ctx) {
			in.log.Info("once: every partition reached its end offset")
			cancel()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-in.reachedCh:
		}
	}
}

func (in *Input) onceComplete(ctx context.Context) bool {
	in.mu.Lock()
	gen := in.current
	in.mu.Unlock()
	pending := map[string][]int{}
	n := 0
	for tp := range in.ends {
		if gen != nil && gen.reached(tp) {
			continue
		}
		pending[tp.topic] = append(pending[tp.topic], tp.partition)
		n++
	}
	if n == 0 {
		return true
	}
	if gen == nil {
		return false // not in the group yet: nothing to compare with
	}
	res, err := in.client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: in.cfg.GroupID, Topics: pending})
	if err != nil || res.Error != nil {
		return false
	}
	done := 0
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error == nil && p.CommittedOffset >= 0 && p.CommittedOffset >= in.ends[topicPartition{topic, p.Partition}] {
				done++
			}
		}
	}
	return done == n
}

func (in *Input) signalReached() {
	select {
	case in.reachedCh <- struct{}{}:
	default:
	}
}
