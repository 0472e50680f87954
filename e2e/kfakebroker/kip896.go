package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// removedBefore maps the API keys whose old versions Kafka 4.0 removed (KIP-896) to the
// first version a 4.0 broker still accepts. The table follows the 4.0 message
// definitions ("Versions 0-3 were removed in Apache Kafka 4.0, Version 4 is the new
// baseline", ...). JoinGroup v0-v1 were removed in 4.0.0 and accepted again from 4.0.1
// (KAFKA-19444); the stricter 4.0.0 is modelled. Metadata, FindCoordinator, SyncGroup,
// Heartbeat, LeaveGroup, DescribeGroups and ListGroups lost no version. (A real 4.0 broker
// still advertises Produce from v0 because of a librdkafka bug, KAFKA-18659, while it
// refuses v0-v2; kfake advertises v3, its own minimum.)
var removedBefore = map[kmsg.Key]int16{
	kmsg.Produce:              3,
	kmsg.Fetch:                4,
	kmsg.ListOffsets:          1,
	kmsg.OffsetCommit:         2,
	kmsg.OffsetFetch:          1,
	kmsg.JoinGroup:            2,
	kmsg.SASLHandshake:        1,
	kmsg.CreateTopics:         2,
	kmsg.DeleteTopics:         1,
	kmsg.DeleteRecords:        1,
	kmsg.OffsetForLeaderEpoch: 2,
	kmsg.DescribeConfigs:      1,
	kmsg.AlterConfigs:         1,
	kmsg.DescribeACLs:         1,
	kmsg.CreateACLs:           1,
	kmsg.DeleteACLs:           1,
	kmsg.DescribeLogDirs:      1,
	kmsg.AlterReplicaLogDirs:  1,
	kmsg.CreatePartitions:     1,
	kmsg.DeleteGroups:         1,
	kmsg.AddPartitionsToTxn:   1,
	kmsg.AddOffsetsToTxn:      1,
	kmsg.EndTxn:               1,
	kmsg.TxnOffsetCommit:      1,
}

// RefuseRemovedVersions makes c behave like a Kafka 4.0 broker for the versions KIP-896
// removed: ApiVersions advertises the new minimums, and a request at a removed version
// closes the connection (as a 4.x broker does), after report was called with a line
// naming the request. It returns the counter of refused requests.
func RefuseRemovedVersions(c *kfake.Cluster, report func(string)) (*atomic.Int64, error) {
	learnt, err := apiVersionsOf(c)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's API versions: %w", err)
	}
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(learnt.ApiKeys))
	for _, k := range learnt.ApiKeys {
		if m, ok := removedBefore[kmsg.Key(k.ApiKey)]; ok && m > k.MinVersion {
			if m > k.MaxVersion {
				continue // no version left (a cluster capped below 4.0's baseline)
			}
			k.MinVersion = m
		}
		keys = append(keys, k)
	}
	var refused atomic.Int64
	c.ControlKey(int16(kmsg.ApiVersions), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ApiVersionsRequest)
		if r.Version > learnt.Version {
			return nil, nil, false // kfake answers the downgrade
		}
		resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.ApiKeys = slices.Clone(keys)
		resp.SupportedFeatures = learnt.SupportedFeatures
		resp.FinalizedFeatures = learnt.FinalizedFeatures
		resp.FinalizedFeaturesEpoch = learnt.FinalizedFeaturesEpoch
		return resp, nil, true
	})
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		first, ok := removedBefore[kmsg.Key(req.Key())]
		if !ok || req.GetVersion() >= first {
			return nil, nil, false
		}
		c.KeepControl()
		refused.Add(1)
		line := fmt.Sprintf("refused %s v%d: removed in Kafka 4.0 (KIP-896)", kmsg.NameForKey(req.Key()), req.GetVersion())
		report(line)
		return nil, fmt.Errorf("%s", line), true
	})
	return &refused, nil
}

// apiVersionsOf asks the cluster for its ApiVersions answer with a client of its own.
func apiVersionsOf(c *kfake.Cluster) (*kmsg.ApiVersionsResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()[0]))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
}
