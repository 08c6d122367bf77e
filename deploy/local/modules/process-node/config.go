// Command-line configuration of rayop-process-node: parsing and checks.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// config is the parsed command line.
type config struct {
	kubeconfig string
	nodeName   string
	bridge     string
	cidr       netip.Prefix
	apiserver  string
	images     []imageRule
	stateDir   string
	listenHost string
	listenPort int
	cpu        resource.Quantity
	memory     resource.Quantity
	pods       resource.Quantity
	labels     map[string]string
	taints     []v1.Taint
}

// allocatable is the node's capacity (all of it is allocatable).
func (c *config) allocatable() v1.ResourceList {
	return v1.ResourceList{v1.ResourceCPU: c.cpu, v1.ResourceMemory: c.memory, v1.ResourcePods: c.pods}
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// parseConfig parses and checks args (without the program name).
func parseConfig(args []string) (*config, error) {
	fs := flag.NewFlagSet("rayop-process-node", flag.ContinueOnError)
	var imageMap, labelFlags, taintFlags multiFlag
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the control plane (required)")
	nodeName := fs.String("node-name", "", "name of the Node to register (required)")
	bridge := fs.String("bridge", "", "bridge name, e.g. rayop-pn7 (required)")
	cidr := fs.String("cidr", "", "pod subnet, e.g. 10.213.7.0/24 (required)")
	apiserver := fs.String("apiserver", "", "127.0.0.1:PORT of kube-apiserver, forwarded from <gateway>:443 (required)")
	stateDir := fs.String("state-dir", "", "directory for per-pod state (required)")
	listen := fs.String("listen", "", "127.0.0.1:PORT for the kubelet API (required)")
	cpu := fs.String("cpu", "2", "cpu capacity")
	memory := fs.String("memory", "4Gi", "memory capacity")
	pods := fs.String("pods", "110", "pod capacity")
	fs.Var(&imageMap, "image-map", "PATTERN=DIR (repeatable, first match wins); DIR a venv or 'host' (at least one)")
	fs.Var(&labelFlags, "label", "k=v node label (repeatable)")
	fs.Var(&taintFlags, "taint", "key[=value]:Effect node taint (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for name, v := range map[string]string{"--kubeconfig": *kubeconfig, "--node-name": *nodeName, "--bridge": *bridge,
		"--cidr": *cidr, "--apiserver": *apiserver, "--state-dir": *stateDir, "--listen": *listen} {
		if v == "" {
			return nil, fmt.Errorf("%s is required", name)
		}
	}
	c := &config{kubeconfig: *kubeconfig, nodeName: *nodeName, bridge: *bridge, apiserver: *apiserver, stateDir: *stateDir,
		labels: map[string]string{}}
	var err error
	if c.cidr, err = netip.ParsePrefix(*cidr); err != nil || !c.cidr.Addr().Is4() {
		return nil, fmt.Errorf("--cidr %q: want an IPv4 prefix like 10.213.7.0/24", *cidr)
	}
	c.cidr = c.cidr.Masked()
	if _, _, err := net.SplitHostPort(*apiserver); err != nil {
		return nil, fmt.Errorf("--apiserver %q: %w", *apiserver, err)
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", *listen, err)
	}
	if c.listenPort, err = strconv.Atoi(port); err != nil || c.listenPort <= 0 || c.listenPort > 65535 {
		return nil, fmt.Errorf("--listen %q: want a fixed port", *listen)
	}
	c.listenHost = host
	if len(imageMap) == 0 {
		return nil, fmt.Errorf("--image-map is required (e.g. --image-map '*=host')")
	}
	for _, s := range imageMap {
		r, err := parseImageRule(s)
		if err != nil {
			return nil, err
		}
		c.images = append(c.images, r)
	}
	for name, pair := range map[string]struct {
		in  string
		out *resource.Quantity
	}{"--cpu": {*cpu, &c.cpu}, "--memory": {*memory, &c.memory}, "--pods": {*pods, &c.pods}} {
		q, err := resource.ParseQuantity(pair.in)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", name, pair.in, err)
		}
		*pair.out = q
	}
	for _, l := range labelFlags {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--label %q: want k=v", l)
		}
		c.labels[k] = v
	}
	for _, t := range taintFlags {
		taint, err := parseTaint(t)
		if err != nil {
			return nil, err
		}
		c.taints = append(c.taints, taint)
	}
	return c, nil
}

// parseTaint parses key[=value]:Effect.
func parseTaint(s string) (v1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return v1.Taint{}, fmt.Errorf("--taint %q: want key[=value]:Effect", s)
	}
	k, v, _ := strings.Cut(kv, "=")
	e := v1.TaintEffect(effect)
	if k == "" || (e != v1.TaintEffectNoSchedule && e != v1.TaintEffectPreferNoSchedule && e != v1.TaintEffectNoExecute) {
		return v1.Taint{}, fmt.Errorf("--taint %q: want key[=value]:NoSchedule|PreferNoSchedule|NoExecute", s)
	}
	return v1.Taint{Key: k, Value: v, Effect: e}, nil
}
