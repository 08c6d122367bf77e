// Tests of the CRI log format: encoding, reassembly, tail/since/limit.
package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLogRoundTripTailLimitSince(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var data []byte
	data = append(data, encodeLogRecords([]byte("one\ntw"), "stdout", t0)...)
	data = append(data, encodeLogRecords([]byte("o\nthree\n"), "stdout", t0.Add(time.Second))...)
	data = append(data, encodeLogRecords([]byte("err!\n"), "stderr", t0.Add(2*time.Second))...)
	data = append(data, encodeLogRecords([]byte("unfinished"), "stdout", t0.Add(3*time.Second))...)

	lines, used := parseLogRecords(data)
	if len(lines) != 4 {
		t.Fatalf("want 4 complete lines, got %d", len(lines))
	}
	if string(renderLogLines(lines, logQuery{Tail: -1})) != "one\ntwo\nthree\nerr!\n" {
		t.Errorf("all: %q", renderLogLines(lines, logQuery{Tail: -1}))
	}
	if got := string(renderLogLines(lines, logQuery{Tail: 2})); got != "three\nerr!\n" {
		t.Errorf("tail 2: %q", got)
	}
	if got := string(renderLogLines(lines, logQuery{Tail: 0})); got != "" {
		t.Errorf("tail 0: %q", got)
	}
	if got := string(renderLogLines(lines, logQuery{Tail: -1, LimitBytes: 6})); got != "one\ntw" {
		t.Errorf("limit 6: %q", got)
	}
	if got := string(renderLogLines(lines, logQuery{Tail: -1, Since: t0.Add(time.Second)})); got != "three\nerr!\n" {
		t.Errorf("since: %q", got)
	}
	// "two" started at t0, so its timestamp is t0.
	if got := string(renderLogLines(lines[1:2], logQuery{Tail: -1, Timestamps: true})); got != "2026-01-02T03:04:05Z two\n" {
		t.Errorf("timestamps: %q", got)
	}
	if used == len(data) {
		t.Errorf("the unfinished line must stay unconsumed")
	}
}

func TestFollowLogStopsWhenRunFinished(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	sink := &logSink{}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sink.f = f
	w := &streamWriter{sink: sink, stream: "stdout", now: time.Now}
	if _, err := w.Write([]byte("a\nb\n")); err != nil {
		t.Fatal(err)
	}
	finished := make(chan struct{})
	isFinished := func() bool {
		select {
		case <-finished:
			return true
		default:
			return false
		}
	}
	r := followLog(context.Background(), path, logQuery{Tail: 1}, isFinished)
	go func() {
		_, _ = w.Write([]byte("c\n"))
		close(finished)
	}()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	// Tail 1 of what existed when following began, then everything new.
	if string(out) != "b\nc\n" && string(out) != "c\n" {
		t.Errorf("follow: %q", out)
	}
}
