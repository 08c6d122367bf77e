// Thin wrappers around the `ip` command (iproute2), the one tool this
// package uses to change links, addresses, routes and named namespaces.
package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// ipCmd runs `ip args...` and returns its stdout; the error carries stderr.
func ipCmd(args ...string) (string, error) {
	cmd := exec.Command("ip", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// ip runs `ip args...`.
func ip(args ...string) error {
	_, err := ipCmd(args...)
	return err
}

// linkExists tells whether a link of that name exists in the host namespace.
func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// deleteLink removes a link of the host namespace; a missing link is fine
// (a veth goes away by itself shortly after its namespace).
func deleteLink(name string) error {
	if !linkExists(name) {
		return nil
	}
	if err := ip("link", "del", "dev", name); err != nil && linkExists(name) {
		return err
	}
	return nil
}

// linksOf lists the links enslaved to a bridge.
func linksOf(bridge string) ([]string, error) {
	out, err := ipCmd("-o", "link", "show", "master", bridge)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fields[1], ":"), "@")
		names = append(names, name)
	}
	return names, nil
}

// isBridge tells whether the existing link name is a bridge.
func isBridge(name string) (bool, error) {
	out, err := ipCmd("-d", "-o", "link", "show", "dev", name)
	if err != nil {
		return false, err
	}
	return strings.Contains(out, " bridge "), nil
}

// errNotBridge is returned when the bridge name is taken by another kind of link.
var errNotBridge = errors.New("exists and is not a bridge")
