// Tests of hosts entries built from Services and EndpointSlices.
package main

import (
	"net/netip"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func slice(ns, svc, name string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
	}
}

func ep(ip string, ready *bool, hostname string) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
	if hostname != "" {
		e.Hostname = &hostname
	}
	return e
}

func TestHostsEntries(t *testing.T) {
	yes, no := true, false
	services := []*v1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ray", Name: "head-svc"}, Spec: v1.ServiceSpec{ClusterIP: v1.ClusterIPNone}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ray", Name: "dash"}, Spec: v1.ServiceSpec{ClusterIP: "10.0.0.20"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ray", Name: "all"}, Spec: v1.ServiceSpec{ClusterIP: v1.ClusterIPNone, PublishNotReadyAddresses: true}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "db"}, Spec: v1.ServiceSpec{ClusterIP: "10.0.0.30"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "empty"}, Spec: v1.ServiceSpec{ClusterIP: "10.0.0.31"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}, Spec: v1.ServiceSpec{ClusterIP: "10.0.0.1"}},
	}
	slices := []*discoveryv1.EndpointSlice{
		slice("ray", "head-svc", "a", ep("10.213.7.3", &yes, "head-0"), ep("10.213.7.9", &no, "")),
		slice("ray", "head-svc", "b", ep("10.213.7.2", nil, "")),
		slice("ray", "dash", "c", ep("10.213.7.8", &yes, ""), ep("10.213.7.4", &yes, ""), ep("10.213.7.1", &no, "")),
		slice("ray", "all", "d", ep("10.213.7.9", &no, "")),
		slice("other", "db", "e", ep("10.213.7.6", &yes, "")),
		slice("ray", "db", "wrong-ns", ep("10.213.7.99", &yes, "")),
	}
	self := hostsSelf{Namespace: "ray", Hostname: "head-0", Subdomain: "head-svc", IP: netip.MustParseAddr("10.213.7.3")}
	got := renderHosts(hostsEntries(self, netip.MustParseAddr("10.213.7.1"), services, slices))
	want := strings.Join([]string{
		"127.0.0.1\tlocalhost",
		"10.213.7.3\thead-0.head-svc.ray.svc.cluster.local head-0.head-svc.ray.svc head-0",
		"10.213.7.1\tkubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local",
		"10.213.7.6\tdb.other.svc.cluster.local db.other.svc db.other",
		"10.213.7.9\tall.ray.svc.cluster.local all.ray.svc all.ray all",
		"10.213.7.4\tdash.ray.svc.cluster.local dash.ray.svc dash.ray dash",
		"10.213.7.2\thead-svc.ray.svc.cluster.local head-svc.ray.svc head-svc.ray head-svc",
		"10.213.7.3\thead-svc.ray.svc.cluster.local head-svc.ray.svc head-svc.ray head-svc",
		"10.213.7.3\thead-0.head-svc.ray.svc.cluster.local head-0.head-svc.ray.svc head-0.head-svc.ray head-0.head-svc",
		"",
	}, "\n")
	if got != want {
		t.Errorf("hosts:\n%s\nwant:\n%s", got, want)
	}
}

func TestHostsWithoutSubdomain(t *testing.T) {
	self := hostsSelf{Namespace: "x", Hostname: "p", IP: netip.MustParseAddr("10.213.7.5")}
	got := renderHosts(hostsEntries(self, netip.MustParseAddr("10.213.7.1"), nil, nil))
	if !strings.Contains(got, "10.213.7.5\tp\n") || strings.Contains(got, ".svc\tp") {
		t.Errorf("own entry: %s", got)
	}
}
