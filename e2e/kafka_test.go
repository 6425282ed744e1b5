package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pulse-analytics/pulse/chstore"
	"github.com/pulse-analytics/pulse/ingest"
	"github.com/pulse-analytics/pulse/load"
)

// The tests in this file run the Kafka deployment for real: `pulse ingest
// --brokers` -> topic -> `pulse load` -> store. They need a broker
// (PULSE_TEST_KAFKA_BROKERS, which `make test` sets from scripts/kafka.sh)
// and skip without one.

var loadReady = regexp.MustCompile(`msg="pulse load ready"`)

func kafkaBrokers(t *testing.T) string {
	t.Helper()
	brokers := os.Getenv("PULSE_TEST_KAFKA_BROKERS")
	if brokers == "" {
		t.Skip("PULSE_TEST_KAFKA_BROKERS is not set; run scripts/kafka.sh start 29092 and set PULSE_TEST_KAFKA_BROKERS=127.0.0.1:29092 to run this test")
	}
	return brokers
}

func uniqueName(t *testing.T) string {
	var b [4]byte
	rand.Read(b[:])
	return "pulse_e2e_" + hex.EncodeToString(b[:])
}

func kafkaAdmin(t *testing.T, brokers string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// committedRecords is how many records the group has committed, over all
// partitions of topic (-1 when the broker does not answer).
func committedRecords(adm *kadm.Client, group, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return -1
	}
	var n int64
	for _, o := range offsets[topic] {
		if o.Err == nil && o.At > 0 {
			n += o.At
		}
	}
	return n
}

// groupLag is how many records of topic the group has not committed (-1
// when the broker does not answer).
func groupLag(adm *kadm.Client, group, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		return -1
	}
	var end int64
	ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
	committed := committedRecords(adm, group, topic)
	if committed < 0 {
		return -1
	}
	return end - committed
}

// produceRaw writes values to topic as they are, bypassing the gateway's
// contract (how a foreign or broken producer would).
func produceRaw(t *testing.T, brokers, topic string, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	records := make([]*kgo.Record, len(values))
	for i, v := range values {
		records[i] = &kgo.Record{Key: []byte("raw"), Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// invalidValues are records no gateway would write.
var invalidValues = []string{
	"{not json",
	`{"event":"signup","user_id":"u","tenant_id":"bad tenant","session_id":"s","ts":"2026-09-01T00:00:00Z"}`,
	`{"event":"signup","user_id":"u","tenant_id":"acme","session_id":"s","ts":"2026-09-01T00:00:00"}`,
}

// poster sends events to the gateway in batches from a few clients,
// retrying each batch until it is acknowledged (across broker outages),
// and records what was acknowledged.
type poster struct {
	mu    sync.Mutex
	acked map[string]ingest.Event
}

func newPoster() *poster { return &poster{acked: map[string]ingest.Event{}} }

func (p *poster) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// post sends events with 3 clients and returns once all are acknowledged.
func (p *poster) post(t *testing.T, url string, events []ingest.Event) {
	const batchSize = 250
	batches := make(chan []ingest.Event, len(events)/batchSize+1)
	for start := 0; start < len(events); start += batchSize {
		batches <- events[start:min(start+batchSize, len(events))]
	}
	close(batches)
	client := &http.Client{Timeout: 15 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				for {
					status, _, err := postBatch(client, url, batch)
					if err == nil && status == http.StatusOK {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("batch not acknowledged by the deadline: status %d, %v", status, err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				p.mu.Lock()
				for _, ev := range batch {
					p.acked[ev.EventID] = ev
				}
				p.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// storedExactlyOnce fails unless the store holds every acknowledged event
// exactly once, as sent, and nothing else.
func storedExactlyOnce(t *testing.T, data string, acked map[string]ingest.Event) {
	t.Helper()
	stored, copies := storedEvents(t, data)
	for id, want := range acked {
		got, ok := stored[id]
		if !ok {
			t.Fatalf("acknowledged event %s is not stored", id)
		}
		if copies[id] != 1 {
			t.Fatalf("acknowledged event %s is stored %d times", id, copies[id])
		}
		if got.Event != want.Event || got.UserID != want.UserID || got.TenantID != want.TenantID || got.SessionID != want.SessionID ||
			!got.TS.Equal(want.TS) || got.EventVersion != want.EventVersion || !sameJSON(got.Properties, want.Properties) || !sameJSON(got.Context, want.Context) {
			t.Fatalf("stored event differs:\n got  %+v\n want %+v", got, want)
		}
	}
	if len(stored) != len(acked) {
		t.Fatalf("stored %d events, acknowledged %d", len(stored), len(acked))
	}
}

// deadLettersAreTheInvalidRecords checks the dead-letter file against
// invalidValues. A record may appear twice (at least once: a kill between
// writing and committing), always with the same partition and offset.
func deadLettersAreTheInvalidRecords(t *testing.T, path, topic string) {
	t.Helper()
	letters, torn, err := load.ReadDeadLetterFile(path)
	if err != nil || torn {
		t.Fatalf("read dead letters: %v (torn last line: %v)", err, torn)
	}
	byPosition := map[string]load.DeadLetter{}
	for _, d := range letters {
		byPosition[fmt.Sprintf("%d@%d", d.Partition, d.Offset)] = d
	}
	seen := map[string]bool{}
	for _, d := range byPosition {
		if d.Topic != topic || d.Reason == "" || d.Error == "" {
			t.Fatalf("incomplete dead letter %+v", d)
		}
		seen[string(d.Raw)] = true
	}
	for _, v := range invalidValues {
		if !seen[v] {
			t.Fatalf("invalid record %q has no dead letter (got %d: %+v)", v, len(byPosition), byPosition)
		}
	}
	if len(byPosition) != len(invalidValues) {
		t.Fatalf("%d distinct dead letters, want %d", len(byPosition), len(invalidValues))
	}
}

func loadArgs(brokers, topic, group, data, deadLetters string, extra ...string) []string {
	return append([]string{"load", "--brokers", brokers, "--topic", topic, "--group", group, "--data", data,
		"--dead-letters", deadLetters, "--batch-events", "500", "--batch-interval", "100ms", "--progress-interval", "1s",
		// The broker's minimum: a restart after kill -9 waits this long
		// for the dead loader's partitions.
		"--session-timeout", "6s"}, extra...)
}

// TestKafkaLoadSurvivesKill9 runs gateway -> Kafka -> loader, kills the
// loader with SIGKILL once it has committed part of the stream while
// clients keep posting, restarts it until the topic is drained, and checks
// that every acknowledged event is stored exactly once and every invalid
// record is a dead letter.
func TestKafkaLoadSurvivesKill9(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic, group := uniqueName(t), uniqueName(t)
	dir := t.TempDir()
	data, deadLetters := filepath.Join(dir, "pulse.db"), filepath.Join(dir, "dead-letters.ndjson")
	adm := kafkaAdmin(t, brokers)
	t.Cleanup(func() { adm.DeleteTopic(context.Background(), topic) })

	gw := startGateway(t, "--brokers", brokers, "--topic", topic, "--partitions", "3")
	events := generated(t, 20_000) // about 8,600
	third := len(events) / 3
	p := newPoster()
	p.post(t, gw.url, events[:third])
	produceRaw(t, brokers, topic, invalidValues...)

	loader, _ := startPulse(t, loadReady, loadArgs(brokers, topic, group, data, deadLetters)...)
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		p.post(t, gw.url, events[third:])
	}()
	// Kill once part of the stream is committed, mid-stream.
	for deadline := time.Now().Add(30 * time.Second); committedRecords(adm, group, topic) < int64(third); {
		if time.Now().After(deadline) {
			t.Fatalf("loader committed %d records in 30s:\n%s", committedRecords(adm, group, topic), loader.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := loader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	loader.wait(t, 10*time.Second)
	killedAt := committedRecords(adm, group, topic)
	<-posted

	restarted, _ := startPulse(t, loadReady, loadArgs(brokers, topic, group, data, deadLetters, "--until-idle", "1s")...)
	if err := restarted.wait(t, 60*time.Second); err != nil {
		t.Fatalf("restarted loader: %v\n%s", err, restarted.log())
	}
	if !strings.Contains(restarted.log(), "pulse load drained the topic") {
		t.Fatalf("restarted loader did not report draining:\n%s", restarted.log())
	}
	t.Logf("killed with %d records committed; restart: %s", killedAt, lastLine(restarted.log(), "drained"))

	if err := gw.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("gateway: %v", err)
	}
	if p.count() != len(events) {
		t.Fatalf("acknowledged %d of %d events", p.count(), len(events))
	}
	storedExactlyOnce(t, data, p.acked)
	deadLettersAreTheInvalidRecords(t, deadLetters, topic)
}

// TestKafkaLoadSurvivesABrokerRestart restarts a broker of its own (its
// storage kept, as after a crash or an upgrade) while the gateway and the
// loader run and clients post, then stops the loader with SIGTERM once it
// has caught up: every acknowledged event is stored exactly once.
//
// It starts and restarts a JVM (about 5 and 10 s on an idle machine), so
// -short skips it.
func TestKafkaLoadSurvivesABrokerRestart(t *testing.T) {
	kafkaBrokers(t) // the shared broker stays up; this only checks Kafka is installed
	if testing.Short() {
		t.Skip("-short: skipping the broker restart (two broker starts)")
	}
	port := freePortPair(t)
	runDir := t.TempDir()
	kafka := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("../scripts/kafka.sh", append(args, fmt.Sprint(port))...)
		cmd.Env = append(os.Environ(), "PULSE_KAFKA_RUN_DIR="+runDir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("scripts/kafka.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	t.Cleanup(func() { kafka("stop") }) // stop is a no-op when start failed
	brokers := kafka("start")

	topic, group := uniqueName(t), uniqueName(t)
	dir := t.TempDir()
	data, deadLetters := filepath.Join(dir, "pulse.db"), filepath.Join(dir, "dead-letters.ndjson")
	adm := kafkaAdmin(t, brokers)
	// A fresh broker creates its 50-partition offsets topic on the first
	// group request: have it done while the gateway starts.
	go committedRecords(adm, group, topic)

	gw := startGateway(t, "--brokers", brokers, "--topic", topic, "--partitions", "3", "--ack-timeout", "2s")
	events := generated(t, 20_000) // about 8,600
	third := len(events) / 3
	p := newPoster()
	p.post(t, gw.url, events[:third])
	produceRaw(t, brokers, topic, invalidValues...)
	loader, _ := startPulse(t, loadReady, loadArgs(brokers, topic, group, data, deadLetters)...)
	for deadline := time.Now().Add(30 * time.Second); committedRecords(adm, group, topic) < int64(third); {
		if time.Now().After(deadline) {
			t.Fatalf("loader committed %d records in 30s:\n%s", committedRecords(adm, group, topic), loader.log())
		}
		time.Sleep(20 * time.Millisecond)
	}

	posted := make(chan struct{})
	go func() {
		defer close(posted)
		p.post(t, gw.url, events[third:])
	}()
	time.Sleep(200 * time.Millisecond) // some of the rest in flight
	kafka("restart")
	<-posted
	if p.count() != len(events) {
		t.Fatalf("acknowledged %d of %d events", p.count(), len(events))
	}

	// Retries across the outage may have written events twice, so wait
	// for the end of the topic rather than for a count.
	for deadline := time.Now().Add(40 * time.Second); groupLag(adm, group, topic) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("loader still %d records behind 40s after the broker restart:\n%s", groupLag(adm, group, topic), loader.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := loader.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("loader exit after SIGTERM: %v\n%s", err, loader.log())
	}
	if !strings.Contains(loader.log(), "pulse load stopped; every record read is stored") {
		t.Fatalf("loader did not stop gracefully:\n%s", loader.log())
	}
	if err := gw.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("gateway: %v", err)
	}
	storedExactlyOnce(t, data, p.acked)
	deadLettersAreTheInvalidRecords(t, deadLetters, topic)
}

// freePortPair finds a port whose successor is free too (the broker and
// its controller).
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port >= 65535 {
			continue
		}
		if next, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1)); err == nil {
			next.Close()
			return port
		}
	}
	t.Fatal("no free pair of ports")
	return 0
}

func lastLine(log, containing string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], containing) {
			return lines[i]
		}
	}
	return ""
}

// runPulse runs a pulse command to completion and returns its stderr and
// exit code.
func runPulse(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(pulseBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return stderr.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), 0
}

// asMap is a flat JSON object as the events table's Map column holds it:
// strings unquoted, other scalars as written, null as "".
func asMap(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range fields {
		var s string
		switch {
		case json.Unmarshal(v, &s) == nil:
			out[k] = s
		case string(v) == "null":
			out[k] = ""
		default:
			out[k] = string(v)
		}
	}
	return out
}

// TestKafkaLoadIntoClickHouse loads a topic into ClickHouse: it refuses a
// database without the schema, stores every valid record once (events
// FINAL) and every invalid one in events_dead_letters, and a full
// redelivery (a second group) leaves events FINAL unchanged.
func TestKafkaLoadIntoClickHouse(t *testing.T) {
	brokers := kafkaBrokers(t)
	dsn := os.Getenv("PULSE_TEST_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("PULSE_TEST_CLICKHOUSE_DSN is not set; run scripts/chdb.sh start 28123 and set PULSE_TEST_CLICKHOUSE_DSN=http://127.0.0.1:28123/ to run this test")
	}
	ctx := context.Background()
	conn, err := chstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	database, topic := uniqueName(t), uniqueName(t)
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+database+" SYNC"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		conn.Close()
	})
	adm := kafkaAdmin(t, brokers)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.DeleteTopic(context.Background(), topic) })
	loadInto := func(group string) (string, int) {
		return runPulse(t, "load", "--brokers", brokers, "--topic", topic, "--group", group,
			"--clickhouse", dsn, "--database", database, "--once", "--batch-events", "400")
	}

	stderr, code := loadInto(uniqueName(t))
	if code != 1 || !strings.Contains(stderr, "pulse schema apply --clickhouse DSN --database "+database) {
		t.Fatalf("load without a schema: exit %d, want 1 and advice to apply it:\n%s", code, stderr)
	}
	// The schema's Kafka table names its own topic and group, so that a
	// real server never consumes this test's records itself.
	if stderr, code := runPulse(t, "schema", "apply", "--clickhouse", dsn, "--database", database,
		"--topic", uniqueName(t), "--consumer-group", uniqueName(t)); code != 0 {
		t.Fatalf("schema apply: exit %d\n%s", code, stderr)
	}

	events := generated(t, 1500)
	values := make([]string, 0, len(events)+len(invalidValues))
	for _, ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, string(b))
	}
	produceRaw(t, brokers, topic, append(values, invalidValues...)...)

	for run, group := range []string{uniqueName(t), uniqueName(t)} {
		if stderr, code := loadInto(group); code != 0 {
			t.Fatalf("load run %d: exit %d\n%s", run+1, code, stderr)
		}
		stored := map[string]ingest.Event{}
		properties := map[string]map[string]string{}
		rows, err := conn.Query(ctx, "SELECT toString(event_id), event, user_id, tenant_id, session_id, ts, event_version, properties FROM "+database+".events FINAL")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ev ingest.Event
			var version uint32
			var props map[string]string
			if err := rows.Scan(&ev.EventID, &ev.Event, &ev.UserID, &ev.TenantID, &ev.SessionID, &ev.TS, &version, &props); err != nil {
				t.Fatal(err)
			}
			if _, dup := stored[ev.EventID]; dup {
				t.Fatalf("run %d: event %s appears twice in events FINAL", run+1, ev.EventID)
			}
			ev.EventVersion = int(version)
			stored[ev.EventID] = ev
			properties[ev.EventID] = props
		}
		rows.Close()
		if len(stored) != len(events) {
			t.Fatalf("run %d: events FINAL holds %d events, want %d", run+1, len(stored), len(events))
		}
		for _, want := range events {
			got := stored[want.EventID]
			if got.Event != want.Event || got.UserID != want.UserID || got.TenantID != want.TenantID || got.SessionID != want.SessionID ||
				!got.TS.Equal(want.TS) || got.EventVersion != want.EventVersion {
				t.Fatalf("run %d: stored event differs:\n got  %+v\n want %+v", run+1, got, want)
			}
			if want := asMap(t, want.Properties); fmt.Sprint(properties[got.EventID]) != fmt.Sprint(want) {
				t.Fatalf("run %d: event %s properties %v, want %v", run+1, got.EventID, properties[got.EventID], want)
			}
		}

		type letter struct{ reason, raw string }
		letters := map[string]letter{}
		copies := 0
		rows, err = conn.Query(ctx, "SELECT topic, partition, offset, reason, error, raw_message FROM "+database+".events_dead_letters")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var dlTopic, reason, detail, raw string
			var partition, offset uint64
			if err := rows.Scan(&dlTopic, &partition, &offset, &reason, &detail, &raw); err != nil {
				t.Fatal(err)
			}
			if dlTopic != topic || reason == "" || detail == "" {
				t.Fatalf("incomplete dead letter: %s %d %d %q %q", dlTopic, partition, offset, reason, detail)
			}
			letters[fmt.Sprintf("%d@%d", partition, offset)] = letter{reason, raw}
			copies++
		}
		rows.Close()
		raws := map[string]bool{}
		for _, l := range letters {
			raws[l.raw] = true
		}
		for _, v := range invalidValues {
			if !raws[v] {
				t.Fatalf("run %d: invalid record %q not in events_dead_letters (%v)", run+1, v, letters)
			}
		}
		// Each run's group reads every record: the second run writes each
		// dead letter again, at the same partition and offset.
		if len(letters) != len(invalidValues) || copies != (run+1)*len(invalidValues) {
			t.Fatalf("run %d: %d dead-letter rows at %d positions, want %d at %d", run+1, copies, len(letters), (run+1)*len(invalidValues), len(invalidValues))
		}
	}
}
