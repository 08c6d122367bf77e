// Names of the kernel objects a Network creates: namespaces
// "rayop-<tag>-<id>" and host veth ends "vr<12 hex>", plus the paths that go
// with a namespace.
package sandbox

import (
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strings"
)

const (
	netnsRunDir = "/run/netns" // where `ip netns add` mounts named namespaces
	netnsEtcDir = "/etc/netns" // per-namespace files bound over /etc/<name>
	maxIDLen    = 32
	maxLinkName = 15 // IFNAMSIZ - 1
)

// alnum keeps the lowercased ASCII letters and digits of s.
func alnum(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// networkTag is the part of a bridge name that marks its namespaces.
func networkTag(bridge string) (string, error) {
	tag := alnum(strings.TrimPrefix(bridge, "rayop-"))
	if tag == "" {
		return "", fmt.Errorf("sandbox: bridge name %q has no letters or digits after \"rayop-\"", bridge)
	}
	return tag, nil
}

// namespacePrefix starts the name of every namespace of the network tag.
func namespacePrefix(tag string) string { return "rayop-" + tag + "-" }

// namespaceName is the network namespace of pod id in the network tag.
func namespaceName(tag, id string) (string, error) {
	clean := alnum(id)
	if clean == "" {
		return "", fmt.Errorf("sandbox: pod id %q has no letters or digits", id)
	}
	if len(clean) > maxIDLen {
		clean = clean[:maxIDLen]
	}
	return namespacePrefix(tag) + clean, nil
}

// isNamespaceOf tells whether name is a namespace of the network tag.
func isNamespaceOf(tag, name string) bool {
	rest, ok := strings.CutPrefix(name, namespacePrefix(tag))
	return ok && rest != "" && alnum(rest) == rest
}

// hostVethName is the bridge-side veth of namespace ns (at most 15 chars).
func hostVethName(ns string) string {
	h := fnv.New64a()
	h.Write([]byte(ns))
	return fmt.Sprintf("vr%012x", h.Sum64()&0xffffffffffff)
}

// namespacePath is the file `ip netns` mounts namespace ns on.
func namespacePath(ns string) string { return filepath.Join(netnsRunDir, ns) }

// etcDir holds the files of namespace ns bound over /etc/<file>.
func etcDir(ns string) string { return filepath.Join(netnsEtcDir, ns) }
