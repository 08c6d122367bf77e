// The pod's /etc/netns/<ns>/{hosts,resolv.conf}, bound over /etc/hosts and
// /etc/resolv.conf inside the pod. The hosts file is rewritten in place
// (never replaced by rename) so processes that already have it mounted see
// the new content.
package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// localhostLines open every pod's hosts file.
const localhostLines = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// resolvConf keeps name lookups inside the pod: nothing answers on
// 127.0.0.1:53, so names not in /etc/hosts fail fast and no query leaves.
const resolvConf = "nameserver 127.0.0.1\n"

// hostsContent renders a hosts file: the localhost lines, then entries.
func hostsContent(entries []HostEntry) ([]byte, error) {
	var b strings.Builder
	b.WriteString(localhostLines)
	for _, e := range entries {
		if !e.IP.IsValid() {
			return nil, fmt.Errorf("sandbox: hosts entry %v has no valid IP", e.Names)
		}
		if len(e.Names) == 0 {
			return nil, fmt.Errorf("sandbox: hosts entry %v has no names", e.IP)
		}
		for _, n := range e.Names {
			if n == "" || strings.ContainsAny(n, " \t\r\n#") {
				return nil, fmt.Errorf("sandbox: hosts entry %v: invalid name %q", e.IP, n)
			}
		}
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, strings.Join(e.Names, " "))
	}
	return []byte(b.String()), nil
}

// writeEtcFiles creates /etc/netns/<ns>/ with the initial hosts and
// resolv.conf.
func writeEtcFiles(ns string) error {
	dir := etcDir(ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	hosts, err := hostsContent(nil)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), hosts, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(resolvConf), 0o644)
}

// rewriteInPlace overwrites path from offset 0 and then cuts it to the new
// length, keeping the inode (bind mounts of it stay valid). A reader never
// sees an empty file.
func rewriteInPlace(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(content, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(content))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteHosts rewrites the pod's /etc/hosts in place (running processes see it).
// The file always starts with the localhost lines; entries follow in order.
func (s *Sandbox) WriteHosts(entries []HostEntry) error {
	content, err := hostsContent(entries)
	if err != nil {
		return err
	}
	if err := rewriteInPlace(filepath.Join(etcDir(s.Namespace), "hosts"), content); err != nil {
		return fmt.Errorf("sandbox %s: write hosts: %w", s.Namespace, err)
	}
	return nil
}
