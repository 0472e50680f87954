package main

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// A client speaking only versions KIP-896 removed (Produce v2, as a Kafka 0.10.0 client
// does) is refused and its connection closed; a current client works, and ApiVersions
// advertises the new minimums.
func TestRefuseRemovedVersions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.MaxVersions(kversion.V4_0_0()), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	var reported []string
	refused, err := RefuseRemovedVersions(c, func(l string) { mu.Lock(); reported = append(reported, l); mu.Unlock() })
	lines := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(reported) }
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	modern, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer modern.Close()
	if err := modern.ProduceSync(ctx, &kgo.Record{Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatalf("a current client was refused: %v", err)
	}
	av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, modern)
	if err != nil {
		t.Fatal(err)
	}
	mins := map[kmsg.Key]int16{}
	for _, k := range av.ApiKeys {
		mins[kmsg.Key(k.ApiKey)] = k.MinVersion
	}
	for key, want := range map[kmsg.Key]int16{kmsg.Fetch: 4, kmsg.ListOffsets: 1, kmsg.OffsetCommit: 2, kmsg.OffsetFetch: 1, kmsg.JoinGroup: 2, kmsg.DescribeConfigs: 1, kmsg.Produce: 3} {
		if mins[key] != want {
			t.Errorf("%s advertised from v%d, want v%d", kmsg.NameForKey(int16(key)), mins[key], want)
		}
	}
	if refused.Load() != 0 {
		t.Fatalf("refused %d requests of a current client: %v", refused.Load(), lines())
	}

	// A ListOffsets v0 request, as a Kafka 0.10.0 client sends it (kgo would not send a
	// version below the advertised minimum): the broker closes the connection.
	conn, err := net.DialTimeout("tcp", c.ListenAddrs()[0], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version = 0
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "t"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	body := []byte{0, 0, 0, 0}                                   // size, set below
	body = binary.BigEndian.AppendUint16(body, uint16(lo.Key())) // api key
	body = binary.BigEndian.AppendUint16(body, 0)                // api version
	body = binary.BigEndian.AppendUint32(body, 1)                // correlation id
	body = binary.BigEndian.AppendUint16(body, 3)                // client id
	body = append(body, "old"...)
	body = lo.AppendTo(body)
	binary.BigEndian.PutUint32(body, uint32(len(body)-4))
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(conn, make([]byte, 4)); err == nil {
		t.Fatalf("ListOffsets v0 was answered (%d bytes read)", n)
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading the answer to ListOffsets v0: %v, want the connection closed", err)
	}
	if l := lines(); refused.Load() != 1 || len(l) != 1 || !strings.Contains(l[0], "ListOffsets v0") {
		t.Fatalf("refusals %d, reported %q; want one ListOffsets v0", refused.Load(), l)
	}
	t.Logf("reported: %s", lines()[0])
}
