// Package sandbox gives each pod of the process node its own network
// namespace on the node's private bridge, its own /etc/hosts, /tmp, hostname
// and mounts, and runs processes inside it. Nothing it creates outlives
// Network.Close: processes, namespaces, veths, the bridge, files under
// /etc/netns.
//
// This file holds the API contract shared by the node (package main) and
// this package: the types and their documentation. The behaviour lives in
// network.go (bridge, namespaces, veths), pool.go (addresses), hosts.go
// (/etc/netns files), process.go and helper.go (running processes inside a
// pod) and stop.go (finding and stopping a pod's processes).
//
// Kernel object names: a network whose bridge is "rayop-<tag>" names its
// namespaces "rayop-<tag>-<id>" (tag and id reduced to [a-z0-9]), so the
// namespaces of a crashed node are recognised and removed by the next
// SetupNetwork of the same bridge; host veth ends are "vr" plus 12 hex digits
// of a hash of the namespace name.
package sandbox

import (
	"io"
	"net/netip"
	"os/exec"
	"sync"
)

// Network is the node's bridge and the address pool of its subnet.
type Network struct {
	Bridge  string       // e.g. "rayop-pn7"
	Prefix  netip.Prefix // e.g. 10.213.7.0/24
	Gateway netip.Addr   // first address, on the bridge (host side)

	tag  string    // the bridge name reduced to [a-z0-9], without "rayop-"
	pool *addrPool // free addresses of Prefix

	mu        sync.Mutex
	sandboxes map[string]*Sandbox // by namespace name; nil value = being created
	closed    bool
}

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

	net      *Network
	hostVeth string // the veth end on the bridge
	// mu is held shared while a process is being started (until it is inside
	// the namespace) and exclusively by StopAll and DeleteSandbox, so no
	// process slips into the namespace while it is being emptied.
	mu      sync.RWMutex
	deleted bool
}

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

	cmd  *exec.Cmd
	once sync.Once
	code int
	err  error
}
