// The Node object the process node registers (labels, taints, capacity,
// addresses, daemon endpoint, nodeInfo), the self-signed serving
// certificate of its kubelet API, and the TCP forwarder that lets pods
// reach kube-apiserver at <gateway>:443.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeletVersion is what the Node reports (the control plane's version).
const kubeletVersion = "v1.35.8"

// nodeSpec is the Node to register.
func nodeSpec(c *config) v1.Node {
	labels := map[string]string{
		"kubernetes.io/hostname":           c.nodeName,
		"kubernetes.io/os":                 "linux",
		"kubernetes.io/arch":               runtime.GOARCH,
		"beta.kubernetes.io/os":            "linux",
		"node.kubernetes.io/instance-type": "process",
	}
	for k, v := range c.labels {
		labels[k] = v
	}
	labels["rayop.dev/process-node"] = "true"
	labels["type"] = "process"
	now := metav1.Now()
	cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		return v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: c.nodeName, Labels: labels},
		Spec:       v1.NodeSpec{Taints: c.taints, PodCIDR: c.cidr.String(), PodCIDRs: []string{c.cidr.String()}},
		Status: v1.NodeStatus{
			Phase:       v1.NodePending,
			Capacity:    c.allocatable(),
			Allocatable: c.allocatable(),
			// Only InternalIP: kube-apiserver prefers a Hostname address,
			// and the node name does not resolve.
			Addresses:       []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: int32(c.listenPort)}},
			NodeInfo: v1.NodeSystemInfo{
				KubeletVersion:          kubeletVersion,
				OperatingSystem:         "linux",
				Architecture:            runtime.GOARCH,
				OSImage:                 "rayop process node",
				ContainerRuntimeVersion: "process://1",
			},
			Conditions: []v1.NodeCondition{
				cond(v1.NodeReady, v1.ConditionFalse, "KubeletNotReady", "starting"),
				cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
				cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
				cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
				cond(v1.NodeNetworkUnavailable, v1.ConditionFalse, "RouteCreated", "pod bridge is up"),
			},
		},
	}
}

// selfSignedCert is a fresh serving certificate for 127.0.0.1/localhost.
func selfSignedCert(nodeName string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost", nodeName},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// forwarder copies TCP connections from a listener to one target address.
type forwarder struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

func startForwarder(listen, target string) (*forwarder, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, target: target, conns: map[net.Conn]bool{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *forwarder) track(c net.Conn, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
}

func (f *forwarder) serve() {
	defer f.wg.Done()
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer in.Close()
			out, err := net.DialTimeout("tcp", f.target, 5*time.Second)
			if err != nil {
				log.G(context.Background()).Warnf("forwarder: %v", err)
				return
			}
			defer out.Close()
			f.track(in, true)
			f.track(out, true)
			defer f.track(in, false)
			defer f.track(out, false)
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
			go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
			<-done
		}()
	}
}

// Close stops accepting, closes open connections and waits.
func (f *forwarder) Close() {
	_ = f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
