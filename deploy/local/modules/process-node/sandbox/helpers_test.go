// Test fixtures: the helper re-exec hook, a test network that is always torn
// down and checked for leftovers, and small polling/running helpers.
package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testBridge = "rayop-pn250"

var testPrefix = netip.MustParsePrefix("10.213.250.0/24")

func TestMain(m *testing.M) {
	if MaybeReexec() {
		return
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "sandbox tests need root (namespaces, links, mounts)")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// waitUntil polls cond until it holds or timeout passes, then fails with
// cond's last description.
func waitUntil(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testNetwork sets up the test bridge and, at cleanup, closes it and checks
// that nothing of it is left: namespaces, /etc/netns dirs, veths, bridge.
type testNetwork struct {
	*Network
	mu    sync.Mutex
	names []string // namespaces created through this fixture
}

func newTestNetwork(t *testing.T) *testNetwork {
	t.Helper()
	n, err := SetupNetwork(testBridge, testPrefix)
	if err != nil {
		t.Fatalf("SetupNetwork: %v", err)
	}
	tn := &testNetwork{Network: n}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		tn.mu.Lock()
		names := append([]string(nil), tn.names...)
		tn.mu.Unlock()
		assertNetworkGone(t, n.tag, names)
	})
	return tn
}

func (tn *testNetwork) sandbox(t *testing.T, id string) *Sandbox {
	t.Helper()
	s, err := tn.CreateSandbox(id, t.TempDir())
	if err != nil {
		t.Fatalf("CreateSandbox(%q): %v", id, err)
	}
	tn.mu.Lock()
	tn.names = append(tn.names, s.Namespace)
	tn.mu.Unlock()
	return s
}

// assertNetworkGone checks (polling: the kernel removes a namespace's veth
// asynchronously) that the network tag left nothing behind.
func assertNetworkGone(t *testing.T, tag string, namespaces []string) {
	t.Helper()
	waitUntil(t, 10*time.Second, func() (bool, string) {
		out, err := exec.Command("ip", "netns", "list").Output()
		if err != nil {
			return false, fmt.Sprintf("ip netns list: %v", err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && isNamespaceOf(tag, f[0]) {
				return false, "namespace left: " + f[0]
			}
		}
		if linkExists(testBridge) {
			return false, "bridge left: " + testBridge
		}
		for _, ns := range namespaces {
			if linkExists(hostVethName(ns)) {
				return false, "veth left: " + hostVethName(ns)
			}
			if _, err := os.Stat(etcDir(ns)); err == nil {
				return false, "dir left: " + etcDir(ns)
			}
		}
		return true, ""
	})
}

// result is what a finished process printed and returned.
type result struct {
	code   int
	stdout string
	stderr string
}

// run runs argv in s with a minimal environment and returns its result.
func run(t *testing.T, s *Sandbox, spec ProcessSpec) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	spec.Stdout, spec.Stderr = &stdout, &stderr
	if spec.Env == nil {
		spec.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := s.Run(ctx, spec)
	if err != nil {
		t.Fatalf("Run %v: %v (stderr %q)", spec.Argv, err, stderr.String())
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// sh is a ProcessSpec running script with /bin/sh.
func sh(script string) ProcessSpec {
	return ProcessSpec{Argv: []string{"/bin/sh", "-c", script}}
}

// sessionOf reads the session id of pid from /proc.
func sessionOf(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the ")" closing the command: state ppid pgrp session ...
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 4 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.Atoi(fields[3])
}

// alive tells whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// pidsOf lists s's processes or fails.
func pidsOf(t *testing.T, s *Sandbox) []int {
	t.Helper()
	pids, err := s.Pids()
	if err != nil {
		t.Fatalf("Pids: %v", err)
	}
	return pids
}

// escapedPid polls s until one of its processes has its own session apart
// from group leader (i.e. it called setsid) and returns it.
func escapedPid(t *testing.T, s *Sandbox, leader int) int {
	t.Helper()
	var found int
	waitUntil(t, 10*time.Second, func() (bool, string) {
		pids := pidsOf(t, s)
		for _, pid := range pids {
			if sid, err := sessionOf(pid); err == nil && sid == pid && pid != leader {
				found = pid
				return true, ""
			}
		}
		return false, fmt.Sprintf("no setsid process among %v", pids)
	})
	return found
}
