# pulse — the two commands a new machine needs:
#   make run    build pulse and start the gateway on the embedded store (./pulse.db, :8080)
#   make test   install the test engines (Kafka, chDB), start them, run every test
GO ?= go

.PHONY: build run demo test test-go bench fuzz clean

build:
	$(GO) build -o pulse .

run: build
	./pulse ingest

# demo loads 30 days of generated data into ./pulse.db through a gateway.
demo: build
	scripts/demo.sh

test:
	scripts/test.sh

# test-go runs the Go tests alone, against whatever engines are already up.
test-go:
	$(GO) test ./...

bench:
	scripts/bench.sh

fuzz:
	$(GO) test ./ingest/ -run '^$$' -fuzz FuzzDecode -fuzztime 60s

clean:
	rm -f pulse
