# pulse: one static-ish binary (cgo, for the embedded DuckDB store) on a
# slim Debian runtime.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/pulse .

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/pulse /usr/local/bin/pulse
USER 65532:65532
WORKDIR /var/lib/pulse
ENTRYPOINT ["pulse"]
