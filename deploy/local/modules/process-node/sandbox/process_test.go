// Tests of processes in a pod on this machine (root): hostname, exact
// environment, bind mounts seen only in the pod, PATH lookup after mounts,
// live hosts updates, exit codes, and that Signal/StopAll/Run leave no
// process behind (also ones that called setsid).
package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestHostnameAndExactEnvironment(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "env")
	hostBefore, _ := os.Hostname()
	r := run(t, s, ProcessSpec{Argv: []string{"hostname"}, Hostname: "pod-env-0"})
	if r.code != 0 || r.stdout != "pod-env-0\n" {
		t.Fatalf("hostname in pod: %+v", r)
	}
	if h, _ := os.Hostname(); h != hostBefore {
		t.Fatalf("host hostname changed to %q", h)
	}
	env := []string{"PATH=/usr/bin:/bin", "FOO=bar baz", "EMPTY="}
	r = run(t, s, ProcessSpec{Argv: []string{"env"}, Env: env})
	if r.stdout != strings.Join(env, "\n")+"\n" {
		t.Fatalf("env in pod %q, want exactly %q", r.stdout, env)
	}
	// Output to a plain file (as container logs are) is passed straight on.
	logPath := filepath.Join(t.TempDir(), "log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	code, err := s.Run(context.Background(), ProcessSpec{Argv: []string{"/bin/sh", "-c", "echo out; echo err >&2"}, Stdout: logFile, Stderr: logFile})
	if log, _ := os.ReadFile(logPath); err != nil || code != 0 || string(log) != "out\nerr\n" {
		t.Fatalf("log file %q, exit %d, %v", log, code, err)
	}
	r = run(t, s, ProcessSpec{Argv: []string{"pwd"}, WorkDir: "/etc"})
	if r.stdout != "/etc\n" {
		t.Fatalf("pwd %+v", r)
	}
	if r := run(t, s, sh("exit 7")); r.code != 7 {
		t.Fatalf("exit code %d, want 7", r.code)
	}
	if _, err := s.Start(ProcessSpec{Argv: []string{"rayop-no-such-program"}, Env: env}); err == nil ||
		!strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing program: %v", err)
	}
	if _, err := s.Start(ProcessSpec{Argv: []string{"true"}, WorkDir: "/rayop-no-such-dir"}); err == nil {
		t.Fatal("missing work dir accepted")
	}
}

func TestMountsAreSeenOnlyInThePod(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "mnt")
	podTmp := t.TempDir()
	marker := fmt.Sprintf("rayop-marker-%d", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(podTmp, marker), []byte("in pod"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := []Mount{{Source: podTmp, Target: "/tmp"}}

	spec := sh("cat /tmp/" + marker + " && echo written > /tmp/new")
	spec.Mounts = tmp
	if r := run(t, s, spec); r.code != 0 || r.stdout != "in pod" {
		t.Fatalf("pod /tmp: %+v", r)
	}
	if _, err := os.Stat(filepath.Join("/tmp", marker)); err == nil {
		t.Fatal("marker visible in host /tmp")
	}
	if data, err := os.ReadFile(filepath.Join(podTmp, "new")); err != nil || string(data) != "written\n" {
		t.Fatalf("write through the bind: %q, %v", data, err)
	}
	// A plain process of the pod without the mount sees the host's /tmp.
	if r := run(t, s, sh("test -e /tmp/"+marker)); r.code == 0 {
		t.Fatal("marker visible without the mount")
	}

	spec = sh("echo x > /tmp/readonly")
	spec.Mounts = []Mount{{Source: podTmp, Target: "/tmp", ReadOnly: true}}
	if r := run(t, s, spec); r.code == 0 {
		t.Fatal("write to a read-only mount succeeded")
	}
	if _, err := os.Stat(filepath.Join(podTmp, "readonly")); err == nil {
		t.Fatal("read-only mount was written")
	}

	// A file source on a missing target: the target is created empty on
	// the host and shows the source's content only in the pod.
	src := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(src, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "missing", "dir", "token")
	spec = ProcessSpec{Argv: []string{"cat", target}, Mounts: []Mount{{Source: src, Target: target, ReadOnly: true}}}
	if r := run(t, s, spec); r.code != 0 || r.stdout != "secret" {
		t.Fatalf("file mount: %+v", r)
	}
	if data, err := os.ReadFile(target); err != nil || len(data) != 0 {
		t.Fatalf("host side of the file target: %q, %v", data, err)
	}
}

func TestArgv0IsLookedUpAfterMounts(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "venv")
	bin := t.TempDir()
	prog := "rayop-test-venv-prog"
	if err := os.WriteFile(filepath.Join(bin, prog), []byte("#!/bin/sh\necho from-venv \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := ProcessSpec{
		Argv:   []string{prog, "ok"},
		Env:    []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		Mounts: []Mount{{Source: bin, Target: "/usr/local/bin", ReadOnly: true}},
	}
	if r := run(t, s, spec); r.code != 0 || r.stdout != "from-venv ok\n" {
		t.Fatalf("venv program: %+v", r)
	}
	if _, err := os.Stat(filepath.Join("/usr/local/bin", prog)); err == nil {
		t.Fatal("pod mount visible on the host")
	}
	// The shape of rayop's Ray container command: a login shell (whose
	// /etc/profile resets PATH for root) still finds the program, and the
	// too-high ulimit fails without stopping the script.
	spec.Argv = []string{"/bin/bash", "-lc", "--", "ulimit -n 65536; " + prog + " login"}
	spec.Env = []string{"PATH=/nonexistent", "HOME=/root"}
	if r := run(t, s, spec); r.code != 0 || r.stdout != "from-venv login\n" {
		t.Fatalf("login shell: %+v", r)
	}
}

func TestWriteHostsReachesARunningProcess(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "hosts")
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	spec := sh("getent hosts late-name || echo missing; read go; getent hosts late-name")
	spec.Env = []string{"PATH=/usr/bin:/bin"}
	spec.Stdin, spec.Stdout = stdinR, stdoutW
	p, err := s.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL); stdinW.Close(); stdoutR.Close(); _, _ = p.Wait() })
	lines := bufio.NewScanner(stdoutR)
	if !lines.Scan() || lines.Text() != "missing" {
		t.Fatalf("first lookup: %q", lines.Text())
	}
	late := n.Gateway.Next().Next().Next() // any address; only resolution is checked
	if err := s.WriteHosts([]HostEntry{{IP: late, Names: []string{"late-name"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(stdinW, "go\n"); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), late.String()) {
		t.Fatalf("second lookup: %q, want %v", lines.Text(), late)
	}
	stdinW.Close()
	go func() { _, _ = io.Copy(io.Discard, stdoutR) }()
	if code, err := p.Wait(); err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
}

func TestSignalReachesGroupAndStopAllCatchesSetsid(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "sig")
	p, err := s.Start(sh("sleep 1007 & setsid sleep 1008 & wait"))
	if err != nil {
		t.Fatal(err)
	}
	escaped := escapedPid(t, s, p.Pid)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 128+int(syscall.SIGTERM) {
		t.Fatalf("leader exit %d, %v; want 143", code, err)
	}
	// The group is gone; the process in its own session is not.
	waitUntil(t, 5*time.Second, func() (bool, string) {
		pids := pidsOf(t, s)
		return len(pids) == 1 && pids[0] == escaped, fmt.Sprintf("pids %v, want only %d", pids, escaped)
	})
	start := time.Now()
	if err := s.StopAll(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("StopAll waited %v for a process that exits on SIGTERM", took)
	}
	if pids := pidsOf(t, s); len(pids) != 0 || alive(escaped) {
		t.Fatalf("left after StopAll: %v (escaped %d alive %v)", pids, escaped, alive(escaped))
	}
}

func TestStopAllKillsWhatIgnoresSIGTERM(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "term")
	p, err := s.Start(sh(`trap "" TERM; setsid sleep 1009 & exec sleep 1010`))
	if err != nil {
		t.Fatal(err)
	}
	escaped := escapedPid(t, s, p.Pid)
	const grace = 300 * time.Millisecond
	start := time.Now()
	if err := s.StopAll(grace); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < grace {
		t.Fatalf("StopAll returned after %v, before the grace of %v", took, grace)
	}
	if code, _ := p.Wait(); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("leader exit %d, want 137", code)
	}
	if pids := pidsOf(t, s); len(pids) != 0 || alive(escaped) {
		t.Fatalf("left after StopAll: %v", pids)
	}
}

func TestRunKillsTheGroupWhenContextEnds(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "run")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	code, err := s.Run(ctx, ProcessSpec{Argv: []string{"/bin/sh", "-c", "sleep 1011 & sleep 1012; echo done"}})
	if !errors.Is(err, context.DeadlineExceeded) || code != 128+int(syscall.SIGKILL) {
		t.Fatalf("Run: %d, %v; want 137 and the deadline", code, err)
	}
	waitUntil(t, 5*time.Second, func() (bool, string) {
		pids := pidsOf(t, s)
		return len(pids) == 0, fmt.Sprintf("left after Run: %v", pids)
	})
}

func TestKillTaggedStopsOnlyThatContainersProcesses(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "tag")
	tagged := func(tag, script string) ProcessSpec {
		spec := sh(script)
		spec.Env = append(spec.Env, TagEnv+"="+tag)
		return spec
	}
	// The first container's main process leaves a setsid daemon and exits,
	// as `ray start` can leave an orphaned agent behind.
	first, err := s.Start(tagged("first", "setsid sleep 1013 & echo started"))
	if err != nil {
		t.Fatal(err)
	}
	if code, err := first.Wait(); err != nil || code != 0 {
		t.Fatalf("first exit %d, %v", code, err)
	}
	other, err := s.Start(tagged("other", "exec sleep 1014"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Signal(syscall.SIGKILL); _, _ = other.Wait() })
	waitUntil(t, 5*time.Second, func() (bool, string) {
		pids := pidsOf(t, s)
		return len(pids) == 2, fmt.Sprintf("pids %v, want the daemon and the other container", pids)
	})
	if err := s.KillTagged("first"); err != nil {
		t.Fatal(err)
	}
	pids := pidsOf(t, s)
	if len(pids) != 1 || pids[0] != other.Pid {
		t.Fatalf("left after KillTagged: %v, want only the other container's %d", pids, other.Pid)
	}
}
