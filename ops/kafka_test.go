package ops_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pulse-analytics/pulse/ops"
)

// kafkaEnv points the Kafka tests at a real broker (CI and scripts/test.sh
// set it); they use kfake, franz-go's in-process fake, otherwise.
const kafkaEnv = "PULSE_TEST_KAFKA_BROKERS"

func testBrokers(t *testing.T) []string {
	t.Helper()
	if brokers := os.Getenv(kafkaEnv); brokers != "" {
		return strings.Split(brokers, ",")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func unique(t *testing.T, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// lagFixture creates a topic with records per partition and commits
// offsets for a group.
func lagFixture(t *testing.T, brokers []string, records []int, group string, commits map[int32]int64) (string, *kadm.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	topic := unique(t, "ops-lag-")
	if _, err := adm.CreateTopic(ctx, int32(len(records)), 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), topic) })
	for p, n := range records {
		for range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte("{}")}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	if len(commits) > 0 {
		offsets := kadm.Offsets{}
		for p, at := range commits {
			offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
		}
		if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
			t.Fatalf("commit offsets: %v", err)
		}
	}
	return topic, adm
}

func TestKafkaLagPerPartitionOfTheGroup(t *testing.T) {
	brokers := testBrokers(t)
	group := unique(t, "ops-group-")
	topic, adm := lagFixture(t, brokers, []int{10, 5, 0}, group, map[int32]int64{0: 4, 1: 5, 2: 0})
	f, err := (&ops.KafkaSource{Admin: adm, Group: group, Topic: topic}).Lag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.TotalLag != 6 || f.NoCommits {
		t.Errorf("total lag %d, no commits %v; want 6, false", f.TotalLag, f.NoCommits)
	}
	want := map[int32]int64{0: 6, 1: 0, 2: 0}
	if len(f.Partitions) != len(want) {
		t.Fatalf("partitions = %+v, want 3", f.Partitions)
	}
	for _, p := range f.Partitions {
		if p.Topic != topic || p.Lag != want[p.Partition] || p.Err != nil {
			t.Errorf("partition %d: %+v, want lag %d", p.Partition, p, want[p.Partition])
		}
	}
}

func TestKafkaLagOfAGroupWithoutCommitsIsTheWholeLog(t *testing.T) {
	brokers := testBrokers(t)
	topic, adm := lagFixture(t, brokers, []int{3, 4}, "", nil)
	f, err := (&ops.KafkaSource{Admin: adm, Group: unique(t, "ops-never-"), Topic: topic}).Lag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !f.NoCommits || f.TotalLag != 7 || len(f.Partitions) != 2 {
		t.Errorf("figures = %+v, want no commits and lag 7 over 2 partitions", f)
	}
}

func TestKafkaLagFailsWhenTheBrokersAreDown(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = (&ops.KafkaSource{Admin: kadm.NewClient(cl), Group: "g", Topic: "t"}).Lag(ctx)
	if err == nil || !strings.Contains(err.Error(), "--brokers") {
		t.Errorf("err = %v, want a failure that points at --brokers", err)
	}
}
