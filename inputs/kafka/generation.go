package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// generation is this member's share of one consumer-group generation: the partitions it was
// assigned and their trackers. Its commit refuses to run once the generation ended, so acks
// that arrive after a partition was revoked never commit (the generation token).
type generation struct {
	in    *Input
	gen   *kafkago.Generation
	log   *zap.Logger
	parts []*partition
	acked chan struct{} // signalled by every ack of this generation's batches
	wg    sync.WaitGroup

	mu    sync.Mutex // serialises commits; guards ended and partition.lastCommitted
	ended bool
}

// startGeneration registers the generation's partition goroutines with in.fetchers before
// anything runs (so Run's final Wait covers them), then starts the generation's goroutine.
func (in *Input) startGeneration(g *kafkago.Generation) {
	gs := &generation{
		in:    in,
		gen:   g,
		log:   in.log.With(zap.Int32("generation", g.ID)),
		acked: make(chan struct{}, 1),
	}
	var assigned []string
	for topic, as := range g.Assignments {
		for _, a := range as {
			p := newPartition(gs, topic, a.ID, a.Offset)
			gs.parts = append(gs.parts, p)
			assigned = append(assigned, p.domain)
		}
	}
	gs.log.Info("joined consumer group generation", zap.String("group_id", g.GroupID),
		zap.String("member_id", g.MemberID), zap.Strings("partitions", assigned))
	in.fetchers.Add(len(gs.parts))
	gs.wg.Add(len(gs.parts))
	in.mu.Lock()
	in.current = gs
	in.memberID = g.MemberID
	in.mu.Unlock()
	g.Start(gs.run)
}

// run is the generation's goroutine (started with Generation.Start, so the group waits for
// it before the next generation): it runs the partition goroutines, commits every
// commit_interval, and when the generation ends (rebalance, Close) stops fetching, waits a
// bounded time for the acks of emitted batches, commits, and marks the generation ended.
func (gs *generation) run(genCtx context.Context) {
	in := gs.in
	fctx, stop := context.WithCancel(in.runCtx)
	unlink := context.AfterFunc(genCtx, stop)
	defer unlink()
	for _, p := range gs.parts {
		go func() {
			defer in.fetchers.Done()
			defer gs.wg.Done()
			p.run(fctx)
		}()
	}
	t := time.NewTicker(in.cfg.CommitEvery)
loop:
	for {
		select {
		case <-genCtx.Done():
			break loop
		case <-t.C:
			committed, err := gs.commitMoved()
			switch {
			case err != nil:
				in.commitOutage.fail("", err, zap.Int32("generation", gs.gen.ID))
			case committed:
				in.commitOutage.ok("")
			}
		}
	}
	t.Stop()
	stop()
	gs.wg.Wait()
	if !in.closing.Load() {
		// Revocation: give the outputs a bounded time to acknowledge what was emitted, so
		// the next owner does not redo it. The group waits for us meanwhile, and no
		// heartbeat is sent until we rejoin (see Config.revocationWait).
		gs.waitAcks(in.cfg.revocationWait())
	}
	if err := gs.commit(); err != nil {
		gs.log.Warn("final commit of the generation failed", zap.Error(err))
	}
	gs.mu.Lock()
	gs.ended = true
	gs.mu.Unlock()
	in.mu.Lock()
	if in.current == gs {
		in.current = nil
	}
	in.mu.Unlock()
	gs.log.Info("consumer group generation ended")
}

// waitAcks waits until no partition has unacknowledged batches, d passed, or Close began.
func (gs *generation) waitAcks(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		pending := 0
		for _, p := range gs.parts {
			if tr := p.tracker.Load(); tr != nil {
				pending += tr.Pending()
			}
		}
		if pending == 0 {
			return
		}
		select {
		case <-gs.acked:
		case <-timer.C:
			gs.log.Info("partitions revoked with unacknowledged batches; they will be read again by the next owner", zap.Int("batches", pending))
			return
		case <-gs.in.closeCh:
			return
		}
	}
}

// commit commits the low watermark of every partition whose position moved since the last
// commit. It does nothing once the generation ended.
func (gs *generation) commit() error {
	_, err := gs.commitMoved()
	return err
}

// commitMoved is commit, reporting whether anything was committed. It commits over the
// generation's coordinator connection; when that connection is broken (the coordinator
// restarted or moved, which kafka-go notices only at the next heartbeat), it commits as the
// same member and generation over a new connection.
func (gs *generation) commitMoved() (bool, error) {
	return gs.commitWith(func(offsets map[string]map[int]int64) error {
		err := gs.gen.CommitOffsets(offsets)
		var ke kafkago.Error
		if err != nil && !errors.As(err, &ke) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if rerr := gs.commitVia(ctx, gs.gen.ID, gs.gen.MemberID, offsets); rerr != nil {
				return fmt.Errorf("%w (over a new connection: %w)", err, rerr)
			}
			return nil
		}
		return err
	})
}

// commitStandalone commits like commit, but outside the generation (generation -1, no
// member id). The coordinator accepts that only while the group has no members, so it never
// overwrites a position that another member owns now. Close uses it when this member was
// removed from the group (session expired) before it could commit its last positions.
func (gs *generation) commitStandalone(ctx context.Context) error {
	_, err := gs.commitWith(func(offsets map[string]map[int]int64) error {
		return gs.commitVia(ctx, -1, "", offsets)
	})
	return err
}

// commitVia commits offsets with an OffsetCommit request of the input's own client (a
// connection of its own to the group coordinator) as member memberID of generation genID.
func (gs *generation) commitVia(ctx context.Context, genID int32, memberID string, offsets map[string]map[int]int64) error {
	req := &kafkago.OffsetCommitRequest{GroupID: gs.gen.GroupID, GenerationID: int(genID), MemberID: memberID,
		Topics: map[string][]kafkago.OffsetCommit{}}
	for topic, ps := range offsets {
		for p, off := range ps {
			req.Topics[topic] = append(req.Topics[topic], kafkago.OffsetCommit{Partition: p, Offset: off})
		}
	}
	res, err := gs.in.client.OffsetCommit(ctx, req)
	if err != nil {
		return err
	}
	var errs []error
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				errs = append(errs, fmt.Errorf("%s/%d: %w", topic, p.Partition, p.Error))
			}
		}
	}
	return errors.Join(errs...)
}

// isFenced reports whether err means this member is no longer part of the generation.
func isFenced(err error) bool {
	return errors.Is(err, kafkago.IllegalGeneration) || errors.Is(err, kafkago.UnknownMemberId)
}

func (gs *generation) commitWith(commitOffsets func(map[string]map[int]int64) error) (bool, error) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.ended {
		return false, nil
	}
	var offsets map[string]map[int]int64
	type moved struct {
		p   *partition
		pos int64
	}
	var ms []moved
	for _, p := range gs.parts {
		tr := p.tracker.Load()
		if tr == nil {
			continue
		}
		pos := tr.Committed()
		if pos == p.lastCommitted {
			continue
		}
		if offsets == nil {
			offsets = map[string]map[int]int64{}
		}
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int]int64{}
		}
		offsets[p.topic][p.id] = pos
		ms = append(ms, moved{p, pos})
	}
	if len(ms) == 0 {
		return false, nil
	}
	if err := commitOffsets(offsets); err != nil {
		if isFenced(err) || errors.Is(err, kafkago.RebalanceInProgress) {
			return false, fmt.Errorf("commit refused by the group coordinator (the group is rebalancing): %w", err)
		}
		return false, fmt.Errorf("commit: %w", err)
	}
	for _, m := range ms {
		m.p.lastCommitted = m.pos
	}
	if ce := gs.log.Check(zap.DebugLevel, "committed offsets"); ce != nil {
		ce.Write(zap.Any("offsets", offsets))
	}
	return true, nil
}

// reached reports whether this generation owns tp and fetched it up to its end offset.
func (gs *generation) reached(tp topicPartition) bool {
	for _, p := range gs.parts {
		if p.topic == tp.topic && p.id == tp.partition {
			return p.reached.Load()
		}
	}
	return false
}
