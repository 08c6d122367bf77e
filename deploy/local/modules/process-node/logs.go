// Container logs: each run of a container writes its stdout and stderr to
// one file in the CRI log format ("<RFC3339Nano> <stream> <F|P> <text>"),
// so `kubectl logs` can honour timestamps, sinceSeconds/sinceTime, tail,
// limitBytes, follow and --previous (the previous run's file is kept).
package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"time"
)

// logSink serialises the records of one run's stdout and stderr.
type logSink struct {
	mu sync.Mutex
	f  *os.File
}

// streamWriter is one stream (stdout or stderr) of a logSink.
type streamWriter struct {
	sink   *logSink
	stream string
	now    func() time.Time
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.sink.mu.Lock()
	defer w.sink.mu.Unlock()
	_, err := w.sink.f.Write(encodeLogRecords(p, w.stream, w.now()))
	return len(p), err
}

// encodeLogRecords turns one chunk of a stream into CRI records: a full
// record per complete line, a partial ("P") record for a trailing fragment.
func encodeLogRecords(p []byte, stream string, ts time.Time) []byte {
	var b bytes.Buffer
	stamp := ts.UTC().Format(time.RFC3339Nano)
	for len(p) > 0 {
		line, rest, full := bytes.Cut(p, []byte{'\n'})
		tag := "F"
		if !full {
			tag = "P"
		}
		b.WriteString(stamp + " " + stream + " " + tag + " ")
		b.Write(line)
		b.WriteByte('\n')
		p = rest
	}
	return b.Bytes()
}

// logLine is one reassembled line of output.
type logLine struct {
	ts   time.Time
	text []byte // with its trailing newline
}

// parseLogRecords parses whole records from data; it returns the complete
// lines and how many bytes they used (a trailing unfinished line stays).
func parseLogRecords(data []byte) ([]logLine, int) {
	var out []logLine
	var cur []byte
	var curTS time.Time
	inLine := false
	used, pos := 0, 0
	for pos < len(data) {
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			break
		}
		rec := data[pos : pos+nl]
		pos += nl + 1
		fields := bytes.SplitN(rec, []byte{' '}, 4)
		if len(fields) < 4 {
			if !inLine {
				used = pos
			}
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, string(fields[0]))
		if err != nil {
			if !inLine {
				used = pos
			}
			continue
		}
		if !inLine {
			curTS, cur, inLine = ts, nil, true
		}
		cur = append(cur, fields[3]...)
		if string(fields[2]) == "F" {
			out = append(out, logLine{ts: curTS, text: append(cur, '\n')})
			inLine = false
			used = pos
		}
	}
	return out, used
}

// logQuery is the subset of the log options that filters lines.
type logQuery struct {
	Tail       int // <0: all
	LimitBytes int // 0: no limit
	Timestamps bool
	Since      time.Time // zero: all
}

// renderLogLines applies since, tail, timestamps and limitBytes.
func renderLogLines(lines []logLine, q logQuery) []byte {
	if !q.Since.IsZero() {
		i := 0
		for i < len(lines) && lines[i].ts.Before(q.Since) {
			i++
		}
		lines = lines[i:]
	}
	if q.Tail >= 0 && len(lines) > q.Tail {
		lines = lines[len(lines)-q.Tail:]
	}
	var b bytes.Buffer
	for _, l := range lines {
		if q.Timestamps {
			b.WriteString(l.ts.UTC().Format(time.RFC3339Nano) + " ")
		}
		b.Write(l.text)
	}
	out := b.Bytes()
	if q.LimitBytes > 0 && len(out) > q.LimitBytes {
		out = out[:q.LimitBytes]
	}
	return out
}

// followLog streams path: first what matches q, then new lines as they
// come, until ctx ends or finished() reports the run over and the file is
// read to its end. limitBytes counts all bytes sent.
func followLog(ctx context.Context, path string, q logQuery, finished func() bool) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(followLoop(ctx, path, q, finished, pw))
	}()
	return pr
}

func followLoop(ctx context.Context, path string, q logQuery, finished func() bool, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var pending []byte
	sent := 0
	first := true
	buf := make([]byte, 64*1024)
	for {
		done := finished()
		for {
			n, err := f.Read(buf)
			pending = append(pending, buf[:n]...)
			if err != nil || n == 0 {
				break
			}
		}
		lines, used := parseLogRecords(pending)
		pending = pending[used:]
		qq := q
		if !first {
			qq.Tail = -1
		}
		first = false
		out := renderLogLines(lines, qq)
		if q.LimitBytes > 0 && sent+len(out) > q.LimitBytes {
			out = out[:q.LimitBytes-sent]
		}
		if len(out) > 0 {
			if _, err := w.Write(out); err != nil {
				return nil
			}
			sent += len(out)
		}
		if done || (q.LimitBytes > 0 && sent >= q.LimitBytes) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}
