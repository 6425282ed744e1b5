package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// KafkaSource reads a consumer group's lag on a topic with franz-go's
// admin client.
type KafkaSource struct {
	Admin *kadm.Client
	// Group is the consumer group that feeds the store, e.g. ClickHouse's
	// Kafka engine (pulse_clickhouse).
	Group string
	// Topic restricts the figures to the events topic; empty means every
	// topic the group consumes.
	Topic string
}

// KafkaFigures are a consumer group's lag, per partition.
type KafkaFigures struct {
	Group string
	// State is the group's state: Stable, Empty (no member is consuming),
	// Dead (the group does not exist), PreparingRebalance, ...
	State string
	// Members is how many consumers the group has.
	Members int
	// Partitions holds the lag of each partition, by topic then partition.
	Partitions []PartitionLag
	// TotalLag sums the partitions' lag (those whose lag is known).
	TotalLag int64
	// NoCommits is true when the group has committed no offset on the
	// topic: the lag is then everything the topic holds, from its log
	// start, which is where ClickHouse's Kafka engine starts by default.
	NoCommits bool
}

// PartitionLag is one partition's lag.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset (-1: none).
	Committed int64
	// End is the partition's high watermark.
	End int64
	// Lag is End - Committed: messages written but not yet consumed.
	Lag int64
	// Err is set when the lag could not be computed.
	Err error `json:"-"`
}

// Lag reads the group's lag.
func (k *KafkaSource) Lag(ctx context.Context) (KafkaFigures, error) {
	lags, err := k.Admin.Lag(ctx, k.Group)
	if err != nil {
		return KafkaFigures{}, fmt.Errorf("kafka lag of group %s: %w (are the --brokers reachable?)", k.Group, err)
	}
	described, ok := lags[k.Group]
	if !ok {
		return KafkaFigures{}, fmt.Errorf("kafka lag of group %s: the broker returned nothing for the group", k.Group)
	}
	var f KafkaFigures
	switch err := described.Error(); {
	case errors.Is(err, kerr.GroupIDNotFound):
		// Some brokers answer so for a group that never existed, where
		// Kafka describes it as Dead.
		f = KafkaFigures{Group: k.Group, State: "Dead"}
	case err != nil:
		return KafkaFigures{}, fmt.Errorf("kafka lag of group %s: %w", k.Group, err)
	default:
		f = groupFigures(described, k.Topic)
	}
	if len(f.Partitions) == 0 && k.Topic != "" {
		// The group has never committed on the topic (or does not exist):
		// its lag is the whole log, from the start offsets.
		if err := k.wholeLog(ctx, &f); err != nil {
			return KafkaFigures{}, err
		}
	}
	return f, nil
}

// groupFigures shapes kadm's group lag, keeping topic (all when empty).
func groupFigures(l kadm.DescribedGroupLag, topic string) KafkaFigures {
	f := KafkaFigures{Group: l.Group, State: l.State, Members: len(l.Members)}
	for _, m := range l.Lag.Sorted() {
		if topic != "" && m.Topic != topic {
			continue
		}
		p := PartitionLag{Topic: m.Topic, Partition: m.Partition, Committed: m.Commit.At, End: m.End.Offset, Lag: m.Lag, Err: m.Err}
		if p.Err == nil && p.Lag >= 0 {
			f.TotalLag += p.Lag
		}
		f.Partitions = append(f.Partitions, p)
	}
	return f
}

func (k *KafkaSource) wholeLog(ctx context.Context, f *KafkaFigures) error {
	starts, err := k.Admin.ListStartOffsets(ctx, k.Topic)
	if err != nil {
		return fmt.Errorf("kafka start offsets of %s: %w", k.Topic, err)
	}
	ends, err := k.Admin.ListEndOffsets(ctx, k.Topic)
	if err != nil {
		return fmt.Errorf("kafka end offsets of %s: %w", k.Topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("kafka end offsets of %s: %w (does the topic exist? set --topic)", k.Topic, err)
	}
	f.NoCommits = true
	ends.Each(func(o kadm.ListedOffset) {
		start := int64(0)
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Err == nil {
			start = s.Offset
		}
		p := PartitionLag{Topic: o.Topic, Partition: o.Partition, Committed: -1, End: o.Offset, Lag: o.Offset - start}
		f.TotalLag += p.Lag
		f.Partitions = append(f.Partitions, p)
	})
	sort.Slice(f.Partitions, func(i, j int) bool { return f.Partitions[i].Partition < f.Partitions[j].Partition })
	return nil
}
