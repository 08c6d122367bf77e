// Tests of the network on this machine (root): pods get distinct addresses,
// reach each other and the gateway by the names of their hosts file, and
// Close/DeleteSandbox/SetupNetwork leave or adopt nothing stale.
package sandbox

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestTwoPodsReachEachOtherByHostsNames(t *testing.T) {
	n := newTestNetwork(t)
	a, b := n.sandbox(t, "poda"), n.sandbox(t, "podb")
	if a.IP == b.IP || !n.Prefix.Contains(a.IP) || !n.Prefix.Contains(b.IP) || a.IP == n.Gateway || b.IP == n.Gateway {
		t.Fatalf("addresses a=%v b=%v gateway=%v prefix=%v", a.IP, b.IP, n.Gateway, n.Prefix)
	}
	entries := []HostEntry{{IP: a.IP, Names: []string{"pod-a"}}, {IP: b.IP, Names: []string{"pod-b"}}}
	for _, s := range []*Sandbox{a, b} {
		if err := s.WriteHosts(entries); err != nil {
			t.Fatal(err)
		}
	}

	// A web server on a's address, serving a token.
	root := t.TempDir()
	token := fmt.Sprintf("token-%d", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte(token), 0o644); err != nil {
		t.Fatal(err)
	}
	server, err := a.Start(ProcessSpec{
		Argv: []string{"python3", "-m", "http.server", "8080", "--bind", a.IP.String(), "--directory", root},
		Env:  []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Signal(syscall.SIGKILL); _, _ = server.Wait() })

	var last result
	waitUntil(t, 20*time.Second, func() (bool, string) {
		last = run(t, b, ProcessSpec{Argv: []string{"wget", "-q", "-T", "2", "-O", "-", "http://pod-a:8080/hello.txt"}})
		return last.code == 0 && last.stdout == token, fmt.Sprintf("wget from pod-b: %+v", last)
	})

	// Names resolve to the hosts file entries in both pods; the host's
	// resolver is not used.
	r := run(t, a, ProcessSpec{Argv: []string{"getent", "hosts", "pod-b"}})
	if r.code != 0 || !strings.HasPrefix(r.stdout, b.IP.String()) {
		t.Fatalf("getent hosts pod-b in pod-a: %+v", r)
	}
	r = run(t, b, ProcessSpec{Argv: []string{"cat", "/etc/resolv.conf"}})
	if r.stdout != "nameserver 127.0.0.1\n" {
		t.Fatalf("resolv.conf in pod: %q", r.stdout)
	}

	// The server stops on SIGTERM to its group: 128+15.
	if err := server.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := server.Wait(); err != nil || code != 128+int(syscall.SIGTERM) {
		t.Fatalf("server exit %d, %v; want 143", code, err)
	}
}

func TestPodReachesGateway(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "gw")
	ln, err := net.Listen("tcp", netip.AddrPortFrom(n.Gateway, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "node")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	if err := s.WriteHosts([]HostEntry{{IP: n.Gateway, Names: []string{"kubernetes.default.svc"}}}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://kubernetes.default.svc:%d/", ln.Addr().(*net.TCPAddr).Port)
	r := run(t, s, ProcessSpec{Argv: []string{"wget", "-q", "-T", "5", "-O", "-", url}})
	if r.code != 0 || r.stdout != "node" {
		t.Fatalf("wget %s from pod: %+v", url, r)
	}
}

func TestConcurrentCreateGivesDistinctAddresses(t *testing.T) {
	n := newTestNetwork(t)
	const count = 6
	var wg sync.WaitGroup
	got := make([]*Sandbox, count)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = n.sandbox(t, fmt.Sprintf("c%d", i))
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]string{}
	for _, s := range got {
		if s == nil {
			t.Fatal("a sandbox was not created")
		}
		if other, dup := seen[s.IP]; dup {
			t.Fatalf("%s and %s share %v", s.Namespace, other, s.IP)
		}
		seen[s.IP] = s.Namespace
	}
	if _, err := n.CreateSandbox("c0", t.TempDir()); err == nil {
		t.Fatal("second sandbox with the same id accepted")
	}
}

func TestDeleteSandboxRemovesEverything(t *testing.T) {
	n := newTestNetwork(t)
	s := n.sandbox(t, "del")
	p, err := s.Start(sh("setsid sleep 1001 & exec sleep 1002"))
	if err != nil {
		t.Fatal(err)
	}
	// A pod started after s exists, still running when s goes: its mount
	// namespace must not keep s's network namespace (and veth) alive.
	other := n.sandbox(t, "keep")
	keep, err := other.Start(ProcessSpec{Argv: []string{"/bin/sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keep.Signal(syscall.SIGKILL); _, _ = keep.Wait() })
	escaped := escapedPid(t, s, p.Pid)
	nsid, err := statNS(namespacePath(s.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteSandbox(s); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.Wait(); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("leader exit %d, want 137", code)
	}
	waitUntil(t, 5*time.Second, func() (bool, string) {
		return !alive(escaped), fmt.Sprintf("setsid child %d alive", escaped)
	})
	if _, err := os.Stat(namespacePath(s.Namespace)); err == nil {
		t.Fatalf("%s still exists", namespacePath(s.Namespace))
	}
	if _, err := os.Stat(etcDir(s.Namespace)); err == nil {
		t.Fatalf("%s still exists", etcDir(s.Namespace))
	}
	waitUntil(t, 5*time.Second, func() (bool, string) {
		return !linkExists(s.hostVeth), "veth " + s.hostVeth + " left"
	})
	if !alive(keep.Pid) {
		t.Fatal("the other pod's process died")
	}
	mounts, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", keep.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if held := fmt.Sprintf("net:[%d]", nsid.ino); strings.Contains(string(mounts), held) {
		t.Fatalf("the other pod's mounts still hold the deleted namespace %s", held)
	}
	if _, err := s.Start(sh("true")); err == nil {
		t.Fatal("Start on a deleted sandbox succeeded")
	}
	if err := n.DeleteSandbox(s); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	// The id can be used again.
	n.sandbox(t, "del")
}

func TestCloseLeavesNothing(t *testing.T) {
	n := newTestNetwork(t)
	var escaped []int
	for _, id := range []string{"closea", "closeb"} {
		s := n.sandbox(t, id)
		p, err := s.Start(sh("setsid sleep 1003 & exec sleep 1004"))
		if err != nil {
			t.Fatal(err)
		}
		escaped = append(escaped, p.Pid, escapedPid(t, s, p.Pid))
		t.Cleanup(func() { _, _ = p.Wait() })
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	names := append([]string(nil), n.names...)
	n.mu.Unlock()
	assertNetworkGone(t, n.tag, names)
	waitUntil(t, 5*time.Second, func() (bool, string) {
		for _, pid := range escaped {
			if alive(pid) {
				return false, fmt.Sprintf("process %d alive", pid)
			}
		}
		return true, ""
	})
	if _, err := n.CreateSandbox("late", t.TempDir()); err == nil {
		t.Fatal("CreateSandbox on a closed network succeeded")
	}
}

func TestSetupNetworkAdoptsLeftoversOfACrash(t *testing.T) {
	first, err := SetupNetwork(testBridge, testPrefix)
	if err != nil {
		t.Fatal(err)
	}
	latest := first
	t.Cleanup(func() {
		if err := latest.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertNetworkGone(t, latest.tag, nil)
	})
	s, err := first.CreateSandbox("crash", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Start(sh("setsid sleep 1005 & exec sleep 1006"))
	if err != nil {
		t.Fatal(err)
	}
	escaped := escapedPid(t, s, p.Pid)

	// The node "crashed": a new Network on the same bridge, no Close.
	second, err := SetupNetwork(testBridge, testPrefix)
	if err != nil {
		t.Fatal(err)
	}
	latest = second
	if code, _ := p.Wait(); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("old leader exit %d, want 137", code)
	}
	waitUntil(t, 5*time.Second, func() (bool, string) {
		return !alive(escaped), fmt.Sprintf("old setsid child %d alive", escaped)
	})
	if _, err := os.Stat(namespacePath(s.Namespace)); err == nil {
		t.Fatal("stale namespace kept")
	}
	if _, err := os.Stat(etcDir(s.Namespace)); err == nil {
		t.Fatal("stale /etc/netns dir kept")
	}
	again, err := second.CreateSandbox("crash", t.TempDir())
	if err != nil {
		t.Fatalf("same id after adoption: %v", err)
	}
	r := run(t, again, ProcessSpec{Argv: []string{"ip", "-4", "-o", "addr", "show", "dev", "eth0"}})
	if !strings.Contains(r.stdout, again.IP.String()+"/24") {
		t.Fatalf("eth0 in new sandbox: %+v", r)
	}
	r = run(t, again, ProcessSpec{Argv: []string{"ip", "route", "show", "default"}})
	if !strings.Contains(r.stdout, "default via "+second.Gateway.String()+" dev eth0") {
		t.Fatalf("default route in new sandbox: %+v", r)
	}
}

func TestCreateFailsCleanlyWhenSubnetIsFull(t *testing.T) {
	n, err := SetupNetwork(testBridge, netip.MustParsePrefix("10.213.250.0/30"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertNetworkGone(t, n.tag, []string{"rayop-pn250-full1", "rayop-pn250-full2"})
	})
	only, err := n.CreateSandbox("full1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if only.IP != netip.MustParseAddr("10.213.250.2") {
		t.Fatalf("only address of a /30: %v", only.IP)
	}
	if _, err := n.CreateSandbox("full2", t.TempDir()); err == nil {
		t.Fatal("second sandbox in a full /30 created")
	}
	if _, err := os.Stat(namespacePath("rayop-pn250-full2")); err == nil {
		t.Fatal("failed create left its namespace")
	}
	if err := n.DeleteSandbox(only); err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateSandbox("full2", t.TempDir()); err != nil {
		t.Fatalf("create after the address was freed: %v", err)
	}
}
