// Command rayop-process-node is a node of the local control plane whose pods
// run as real processes, one network namespace per pod (see README.md).
// main wires the flags, the pod network, the API server forwarder, the
// kubelet API (logs/exec over HTTPS) and virtual-kubelet's node and pod
// controllers; SIGTERM/SIGINT stop every pod and remove all it created.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	"rayop.local/process-node/sandbox"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
)

// shutdownGraceCap bounds each pod's grace period when the node stops.
const shutdownGraceCap = 10 * time.Second

func main() {
	if sandbox.MaybeReexec() {
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rayop-process-node:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	for _, r := range cfg.images {
		if err := r.check(); err != nil {
			return err
		}
	}
	vklog.L = vkslog.FromSlog(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	logger := vklog.L

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	podsDir := filepath.Join(cfg.stateDir, "pods")
	if err := os.RemoveAll(podsDir); err != nil {
		return err
	}
	if err := os.MkdirAll(podsDir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(podsDir)

	network, err := sandbox.SetupNetwork(cfg.bridge, cfg.cidr)
	if err != nil {
		return fmt.Errorf("pod network: %w", err)
	}
	defer func() {
		if err := network.Close(); err != nil {
			logger.Errorf("closing the pod network: %v", err)
		}
	}()
	fwd, err := startForwarder(net.JoinHostPort(network.Gateway.String(), "443"), cfg.apiserver)
	if err != nil {
		return fmt.Errorf("API server forwarder: %w", err)
	}
	defer fwd.Close()

	eb := record.NewBroadcaster()
	eb.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: client.CoreV1().Events(v1.NamespaceAll)})
	defer eb.Shutdown()
	recorder := eb.NewRecorder(scheme.Scheme, v1.EventSource{Component: "rayop-process-node", Host: cfg.nodeName})

	p := newProvider(cfg, client, network, recorder)
	hostsInformers := informers.NewSharedInformerFactory(client, 5*time.Minute)
	kick := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.kick() },
		UpdateFunc: func(any, any) { p.kick() },
		DeleteFunc: func(any) { p.kick() },
	}
	svcInf := hostsInformers.Core().V1().Services()
	epsInf := hostsInformers.Discovery().V1().EndpointSlices()
	if _, err := svcInf.Informer().AddEventHandler(kick); err != nil {
		return err
	}
	if _, err := epsInf.Informer().AddEventHandler(kick); err != nil {
		return err
	}
	p.svcLister, p.epsLister = svcInf.Lister(), epsInf.Lister()
	hostsInformers.Start(ctx.Done())
	go p.hostsLoop(ctx)

	cert, err := selfSignedCert(cfg.nodeName)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	n, err := nodeutil.NewNode(cfg.nodeName,
		func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
			p.podLister = pc.Pods
			return p, nil, nil
		},
		nodeutil.WithClient(client),
		func(nc *nodeutil.NodeConfig) error {
			nc.NodeSpec = nodeSpec(cfg)
			// kube-apiserver reaches the kubelet API at InternalIP:port;
			// it listens on loopback only, without client authentication.
			nc.HTTPListenAddr = net.JoinHostPort(cfg.listenHost, strconv.Itoa(cfg.listenPort))
			nc.Handler = mux
			nc.EventRecorder = recorder
			nc.NumWorkers = 4
			// Env is resolved by the provider (see env.go).
			nc.SkipDownwardAPIResolution = true
			return nil
		},
		nodeutil.WithTLSConfig(func(t *tls.Config) error {
			t.Certificates = []tls.Certificate{cert}
			return nil
		}),
		nodeutil.AttachProviderRoutes(mux),
	)
	if err != nil {
		return err
	}
	nodeCtx, cancelNode := context.WithCancel(context.Background())
	defer cancelNode()
	go func() { _ = n.Run(nodeCtx) }()
	go func() {
		if err := n.WaitReady(ctx, 0); err == nil {
			logger.Infof("node %s ready: pods on %s (gateway %s), kubelet API on %s:%d",
				cfg.nodeName, network.Prefix, network.Gateway, cfg.listenHost, cfg.listenPort)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
		logger.Infof("stopping: terminating pods")
	case <-n.Done():
		runErr = n.Err()
		logger.Errorf("node controller ended: %v", runErr)
	}
	// Pods first, while the controllers can still post terminal statuses.
	p.shutdown(shutdownGraceCap)
	cancelNode()
	select {
	case <-n.Done():
	case <-time.After(5 * time.Second):
	}
	return runErr
}
