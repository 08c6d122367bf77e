// Unit tests of the pure parts: the address pool, object names and the
// hosts file format.
package sandbox

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestPoolSkipsNetworkGatewayBroadcast(t *testing.T) {
	p, err := newAddrPool(netip.MustParsePrefix("10.213.250.8/29"))
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddr("10.213.250.9"); p.gateway != want {
		t.Fatalf("gateway %v, want %v", p.gateway, want)
	}
	var got []string
	for {
		a, err := p.allocate()
		if errors.Is(err, errPoolExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	want := "10.213.250.10 10.213.250.11 10.213.250.12 10.213.250.13 10.213.250.14"
	if strings.Join(got, " ") != want {
		t.Fatalf("allocated %v, want %v", got, want)
	}
}

func TestPoolReusesFreedAddressLast(t *testing.T) {
	p, err := newAddrPool(netip.MustParsePrefix("10.213.250.0/29"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.allocate() // .2
	b, _ := p.allocate() // .3
	p.release(a)
	c, _ := p.allocate()
	if c == a || c == b {
		t.Fatalf("got %v right after freeing %v (in use %v)", c, a, b)
	}
	for i := 0; i < 2; i++ { // .5 .6, then the search wraps to the freed .2
		if _, err := p.allocate(); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := p.allocate(); err != nil || d != a {
		t.Fatalf("after wrapping got %v, %v; want freed %v", d, err, a)
	}
}

func TestPoolConcurrentAllocationsAreDistinct(t *testing.T) {
	p, err := newAddrPool(netip.MustParsePrefix("10.213.250.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[netip.Addr]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 253; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := p.allocate()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			if seen[a] {
				t.Errorf("%v handed out twice", a)
			}
			seen[a] = true
		}()
	}
	wg.Wait()
	if _, err := p.allocate(); !errors.Is(err, errPoolExhausted) {
		t.Fatalf("254th allocation: %v, want exhausted", err)
	}
}

func TestPoolRejectsNonIPv4AndTinyPrefixes(t *testing.T) {
	for _, s := range []string{"fd00::/64", "10.213.250.0/31"} {
		if _, err := newAddrPool(netip.MustParsePrefix(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

func TestNames(t *testing.T) {
	tag, err := networkTag("rayop-pn250")
	if err != nil || tag != "pn250" {
		t.Fatalf("tag %q, %v", tag, err)
	}
	ns, err := namespaceName(tag, "3F2a-91c0_X")
	if err != nil || ns != "rayop-pn250-3f2a91c0x" {
		t.Fatalf("namespace %q, %v", ns, err)
	}
	if !isNamespaceOf(tag, ns) {
		t.Errorf("%s not recognised as of %s", ns, tag)
	}
	for _, other := range []string{"rayop-pn25-abc", "rayop-pn2500-abc", "rayop-pn250-", "rayop-pn250-a-b", "x-rayop-pn250-a"} {
		if isNamespaceOf(tag, other) {
			t.Errorf("%s wrongly recognised as of %s", other, tag)
		}
	}
	if _, err := namespaceName(tag, "--"); err == nil {
		t.Error("empty id accepted")
	}
	v := hostVethName(ns)
	if len(v) > maxLinkName || !strings.HasPrefix(v, "vr") || v == hostVethName(ns+"0") {
		t.Errorf("veth name %q", v)
	}
}

func TestHostsContent(t *testing.T) {
	got, err := hostsContent([]HostEntry{{IP: netip.MustParseAddr("10.213.250.5"), Names: []string{"a", "a.b.svc"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := localhostLines + "10.213.250.5\ta a.b.svc\n"
	if string(got) != want {
		t.Fatalf("hosts %q, want %q", got, want)
	}
	bad := [][]HostEntry{
		{{Names: []string{"x"}}},
		{{IP: netip.MustParseAddr("10.213.250.5")}},
		{{IP: netip.MustParseAddr("10.213.250.5"), Names: []string{"a b"}}},
		{{IP: netip.MustParseAddr("10.213.250.5"), Names: []string{"a\n10.0.0.1 evil"}}},
	}
	for _, entries := range bad {
		if _, err := hostsContent(entries); err == nil {
			t.Errorf("%v accepted", entries)
		}
	}
}
