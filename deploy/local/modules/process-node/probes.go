// Probes: a pure tracker of consecutive successes and failures per probe
// (thresholds like kubelet), and the runners for exec, httpGet, tcpSocket
// and grpc probes. httpGet/tcpSocket/grpc dial the pod IP from the host,
// which reaches the bridge.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeResult is a probe's current verdict.
type probeResult int

const (
	probeUnknown probeResult = iota
	probeSuccess
	probeFailure
)

// probeTracker turns single probe outcomes into a verdict.
type probeTracker struct {
	successThreshold, failureThreshold int
	successes, failures                int
	result                             probeResult
}

// newProbeTracker starts liveness as success (a container is alive until
// proven otherwise), readiness and startup as unknown.
func newProbeTracker(p *v1.Probe, liveness bool) *probeTracker {
	t := &probeTracker{successThreshold: int(p.SuccessThreshold), failureThreshold: int(p.FailureThreshold)}
	if t.successThreshold < 1 {
		t.successThreshold = 1
	}
	if t.failureThreshold < 1 {
		t.failureThreshold = 3
	}
	if liveness {
		t.result = probeSuccess
	}
	return t
}

// observe records one outcome and returns the verdict and whether it changed.
func (t *probeTracker) observe(ok bool) (probeResult, bool) {
	old := t.result
	if ok {
		t.successes++
		t.failures = 0
		if t.successes >= t.successThreshold {
			t.result = probeSuccess
		}
	} else {
		t.failures++
		t.successes = 0
		if t.failures >= t.failureThreshold {
			t.result = probeFailure
		}
	}
	return t.result, t.result != old
}

// probeTiming is a probe's schedule, with the API's defaults.
func probeTiming(p *v1.Probe) (initial, period, timeout time.Duration) {
	initial = time.Duration(p.InitialDelaySeconds) * time.Second
	period = time.Duration(p.PeriodSeconds) * time.Second
	if period <= 0 {
		period = 10 * time.Second
	}
	timeout = time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	return initial, period, timeout
}

// probeTarget is what a probe runs against.
type probeTarget struct {
	podIP     netip.Addr
	container *v1.Container
	exec      func(ctx context.Context, argv []string) (int, error)
}

// resolvePort turns a port number or container port name into a number.
func resolvePort(port intstr.IntOrString, c *v1.Container) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("no container port named %q", port.StrVal)
}

// runProbe runs one probe attempt; it reports success and a short reason.
func runProbe(ctx context.Context, h v1.ProbeHandler, t probeTarget, timeout time.Duration) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		code, err := t.exec(ctx, h.Exec.Command)
		if err != nil {
			return false, err.Error()
		}
		if ctx.Err() != nil {
			return false, fmt.Sprintf("command timed out after %s", timeout)
		}
		return code == 0, fmt.Sprintf("exit code %d", code)
	case h.HTTPGet != nil:
		return httpProbe(ctx, h.HTTPGet, t)
	case h.TCPSocket != nil:
		port, err := resolvePort(h.TCPSocket.Port, t.container)
		if err != nil {
			return false, err.Error()
		}
		host := h.TCPSocket.Host
		if host == "" {
			host = t.podIP.String()
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		_ = conn.Close()
		return true, ""
	case h.GRPC != nil:
		return grpcProbe(ctx, h.GRPC, t)
	}
	return false, "probe has no handler"
}

func httpProbe(ctx context.Context, g *v1.HTTPGetAction, t probeTarget) (bool, string) {
	port, err := resolvePort(g.Port, t.container)
	if err != nil {
		return false, err.Error()
	}
	host := g.Host
	if host == "" {
		host = t.podIP.String()
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+path, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.35")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
		} else {
			req.Header.Add(h.Name, h.Value)
		}
	}
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true, Proxy: nil},
		// Like kubelet, a redirect counts as success without being followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

func grpcProbe(ctx context.Context, g *v1.GRPCAction, t probeTarget) (bool, string) {
	conn, err := grpc.NewClient(net.JoinHostPort(t.podIP.String(), strconv.Itoa(int(g.Port))),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false, err.Error()
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return false, err.Error()
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return false, "service unhealthy: " + resp.GetStatus().String()
	}
	return true, ""
}
