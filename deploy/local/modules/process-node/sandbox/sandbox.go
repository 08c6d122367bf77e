// Package sandbox gives each pod of the process node its own network
// namespace on the node's private bridge, its own /etc/hosts, /tmp, hostname
// and mounts, and runs processes inside it. Nothing it creates outlives
// Network.Close: processes, namespaces, veths, the bridge, files under
// /etc/netns.
//
// API contract shared by the node (package main) and this package; the
// bodies below are placeholders to be replaced.
package sandbox

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"syscall"
	"time"
)

var errTODO = errors.New("sandbox: not implemented yet")

// Network is the node's bridge and the address pool of its subnet.
type Network struct {
	Bridge  string       // e.g. "rayop-pn7"
	Prefix  netip.Prefix // e.g. 10.213.7.0/24
	Gateway netip.Addr   // first address, on the bridge (host side)
}

// SetupNetwork creates (or adopts, if left from a crash) the bridge with the
// gateway address and removes stale namespaces named for this bridge.
func SetupNetwork(bridge string, prefix netip.Prefix) (*Network, error) { return nil, errTODO }

// Close deletes every sandbox of this network and the bridge.
func (n *Network) Close() error { return errTODO }

// HostEntry is one line of a pod's /etc/hosts.
type HostEntry struct {
	IP    netip.Addr
	Names []string
}

// Sandbox is one pod's network namespace and directory.
type Sandbox struct {
	Namespace string     // network namespace name
	IP        netip.Addr // the pod IP
	Dir       string     // per-pod state dir (tmp/, logs, volumes live under it)
}

// CreateSandbox makes a network namespace with a veth on the bridge, a free
// address of the subnet, lo up and a default route via the gateway, and
// /etc/netns/<ns>/{hosts,resolv.conf} (resolv.conf: nameserver 127.0.0.1).
// id is a stable short id of the pod (e.g. from its UID).
func (n *Network) CreateSandbox(id, dir string) (*Sandbox, error) { return nil, errTODO }

// DeleteSandbox kills every process left in the namespace (SIGKILL), deletes
// the namespace and veth, frees the address and removes /etc/netns/<ns>.
func (n *Network) DeleteSandbox(s *Sandbox) error { return errTODO }

// WriteHosts rewrites the pod's /etc/hosts in place (running processes see it).
func (s *Sandbox) WriteHosts(entries []HostEntry) error { return errTODO }

// Mount is a bind mount inside the pod's mount namespace.
type Mount struct {
	Source   string // a host path (file or directory)
	Target   string // the path inside the pod; created if missing
	ReadOnly bool
}

// ProcessSpec is one process to run in the sandbox.
type ProcessSpec struct {
	Argv     []string // Argv[0] is looked up in PATH from Env
	Env      []string // KEY=VALUE, exactly the process's environment
	WorkDir  string   // inside the pod; "" = "/"
	Hostname string   // the pod's hostname (own UTS namespace)
	Mounts   []Mount  // applied in order (e.g. venv bin over /usr/local/bin, pod tmp over /tmp, volumes)
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
}

// Process is a started process, leader of its own process group.
type Process struct {
	Pid int
}

// Start starts spec in the sandbox (network, mount and UTS namespace of the
// pod) and returns at once.
func (s *Sandbox) Start(spec ProcessSpec) (*Process, error) { return nil, errTODO }

// Wait waits for the process to exit and returns its exit code (128+signal
// when killed by a signal).
func (p *Process) Wait() (int, error) { return -1, errTODO }

// Signal sends sig to the process's whole process group.
func (p *Process) Signal(sig syscall.Signal) error { return errTODO }

// Run runs spec to completion or until ctx ends (then kills its process
// group) and returns the exit code. Used for exec probes and `kubectl exec`.
func (s *Sandbox) Run(ctx context.Context, spec ProcessSpec) (int, error) { return -1, errTODO }

// StopAll sends SIGTERM to every process in the namespace, waits up to grace
// for them to exit, then SIGKILLs the rest.
func (s *Sandbox) StopAll(grace time.Duration) error { return errTODO }

// MaybeReexec must be called first in main: when the binary was re-executed
// as a sandbox helper (the in-namespace step of Start/Run), it does that
// step and never returns; otherwise it returns false.
func MaybeReexec() bool { return false }
