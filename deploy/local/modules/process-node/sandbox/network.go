// The node's bridge and the per-pod network namespaces on it: creating,
// adopting after a crash, and removing every kernel object and file again.
package sandbox

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
)

// SetupNetwork creates (or adopts, if left from a crash) the bridge with the
// gateway address and removes stale namespaces named for this bridge.
func SetupNetwork(bridge string, prefix netip.Prefix) (*Network, error) {
	if bridge == "" || len(bridge) > maxLinkName {
		return nil, fmt.Errorf("sandbox: bridge name %q must have 1 to %d characters", bridge, maxLinkName)
	}
	tag, err := networkTag(bridge)
	if err != nil {
		return nil, err
	}
	pool, err := newAddrPool(prefix)
	if err != nil {
		return nil, err
	}
	n := &Network{
		Bridge:    bridge,
		Prefix:    prefix.Masked(),
		Gateway:   pool.gateway,
		tag:       tag,
		pool:      pool,
		sandboxes: map[string]*Sandbox{},
	}
	if err := removeStaleNamespaces(tag); err != nil {
		return nil, err
	}
	if err := n.setupBridge(); err != nil {
		return nil, fmt.Errorf("sandbox: bridge %s: %w", bridge, err)
	}
	return n, nil
}

// setupBridge makes the bridge exist with exactly the gateway address, no
// leftover ports, no IPv6 link-local address, and up.
func (n *Network) setupBridge() error {
	if linkExists(n.Bridge) {
		ok, err := isBridge(n.Bridge)
		if err != nil {
			return err
		}
		if !ok {
			return errNotBridge
		}
		ports, err := linksOf(n.Bridge)
		if err != nil {
			return err
		}
		for _, p := range ports {
			if err := deleteLink(p); err != nil {
				return err
			}
		}
		if err := ip("addr", "flush", "dev", n.Bridge); err != nil {
			return err
		}
	} else {
		if err := ip("link", "add", "name", n.Bridge, "type", "bridge"); err != nil {
			return err
		}
		// Best effort: without a link-local address the bridge sends no
		// IPv6 router solicitations.
		_ = ip("link", "set", "dev", n.Bridge, "addrgenmode", "none")
	}
	gw := n.Gateway.String() + "/" + strconv.Itoa(n.Prefix.Bits())
	if err := ip("addr", "add", gw, "dev", n.Bridge); err != nil {
		return err
	}
	return ip("link", "set", "dev", n.Bridge, "up")
}

// removeStaleNamespaces kills the processes of, and deletes, every namespace
// of the network tag, and removes /etc/netns dirs of such namespaces.
func removeStaleNamespaces(tag string) error {
	var errs []error
	for _, dir := range []string{netnsRunDir, netnsEtcDir} {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, e := range entries {
			if isNamespaceOf(tag, e.Name()) {
				errs = append(errs, removeNamespace(e.Name(), hostVethName(e.Name())))
			}
		}
	}
	return errors.Join(errs...)
}

// removeNamespace SIGKILLs the processes of namespace ns and deletes it, its
// /etc/netns dir and its host veth. Parts already gone are fine.
func removeNamespace(ns, hostVeth string) error {
	var errs []error
	if err := stopNS(namespacePath(ns), 0, nil); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(namespacePath(ns)); err == nil {
		if err := ip("netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(etcDir(ns)); err != nil {
		errs = append(errs, err)
	}
	if err := deleteLink(hostVeth); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close deletes every sandbox of this network and the bridge. The Network
// cannot be used afterwards.
func (n *Network) Close() error {
	n.mu.Lock()
	n.closed = true
	var live []*Sandbox
	for _, s := range n.sandboxes {
		if s != nil {
			live = append(live, s)
		}
	}
	n.mu.Unlock()
	var errs []error
	for _, s := range live {
		errs = append(errs, n.DeleteSandbox(s))
	}
	errs = append(errs, removeStaleNamespaces(n.tag))
	if linkExists(n.Bridge) {
		ports, err := linksOf(n.Bridge)
		errs = append(errs, err)
		for _, p := range ports {
			errs = append(errs, deleteLink(p))
		}
		errs = append(errs, deleteLink(n.Bridge))
	}
	return errors.Join(errs...)
}

// CreateSandbox makes a network namespace with a veth on the bridge, a free
// address of the subnet, lo up and a default route via the gateway, and
// /etc/netns/<ns>/{hosts,resolv.conf} (resolv.conf: nameserver 127.0.0.1).
// id is a stable short id of the pod (e.g. from its UID); only its letters
// and digits count (at most 32). dir is created if missing and left to the
// caller.
func (n *Network) CreateSandbox(id, dir string) (*Sandbox, error) {
	ns, err := namespaceName(n.tag, id)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, fmt.Errorf("sandbox: network %s is closed", n.Bridge)
	}
	if _, taken := n.sandboxes[ns]; taken {
		n.mu.Unlock()
		return nil, fmt.Errorf("sandbox: namespace %s exists already (pod id %q)", ns, id)
	}
	n.sandboxes[ns] = nil // reserved while being created
	n.mu.Unlock()

	addr, err := n.pool.allocate()
	if err != nil {
		n.forget(ns, netip.Addr{})
		return nil, err
	}
	s := &Sandbox{Namespace: ns, IP: addr, Dir: dir, net: n, hostVeth: hostVethName(ns)}
	if err := n.plumb(s); err != nil {
		cleanupErr := removeNamespace(ns, s.hostVeth)
		n.forget(ns, addr)
		return nil, errors.Join(fmt.Errorf("sandbox %s: %w", ns, err), cleanupErr)
	}
	n.mu.Lock()
	n.sandboxes[ns] = s
	n.mu.Unlock()
	return s, nil
}

// forget drops namespace ns from the network and frees addr.
func (n *Network) forget(ns string, addr netip.Addr) {
	n.mu.Lock()
	delete(n.sandboxes, ns)
	n.mu.Unlock()
	n.pool.release(addr)
}

// podMAC derives the pod's MAC from its IP (locally administered), so a
// reused address keeps its MAC and stale neighbour entries stay right.
func podMAC(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("02:52:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// plumb creates the namespace, its veth pair and addresses, and its /etc files.
func (n *Network) plumb(s *Sandbox) error {
	if s.Dir != "" {
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			return err
		}
	}
	// Leftovers of an earlier run with the same id (e.g. a crash between
	// SetupNetwork and here) would make the steps below fail.
	if err := removeNamespace(s.Namespace, s.hostVeth); err != nil {
		return err
	}
	ns := s.Namespace
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", "name", s.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", "dev", s.hostVeth, "addrgenmode", "none"},
		{"link", "set", "dev", s.hostVeth, "master", n.Bridge, "up"},
		{"-n", ns, "link", "set", "dev", "lo", "up"},
		{"-n", ns, "link", "set", "dev", "eth0", "address", podMAC(s.IP), "addrgenmode", "none"},
		{"-n", ns, "addr", "add", s.IP.String() + "/" + strconv.Itoa(n.Prefix.Bits()), "dev", "eth0"},
		{"-n", ns, "link", "set", "dev", "eth0", "up"},
		{"-n", ns, "route", "add", "default", "via", n.Gateway.String(), "dev", "eth0"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return writeEtcFiles(ns)
}

// DeleteSandbox kills every process left in the namespace (SIGKILL), deletes
// the namespace and veth, frees the address and removes /etc/netns/<ns>.
// Deleting a sandbox twice is fine; it cannot start processes afterwards.
func (n *Network) DeleteSandbox(s *Sandbox) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		return nil
	}
	s.deleted = true
	err := removeNamespace(s.Namespace, s.hostVeth)
	s.mu.Unlock()
	n.forget(s.Namespace, s.IP)
	if err != nil {
		return fmt.Errorf("sandbox %s: delete: %w", s.Namespace, err)
	}
	return nil
}
