// Pod /etc/hosts: no cluster DNS and no kube-proxy exist on the process
// node, so every pod's hosts file names the pod itself, the API server (via
// the gateway forwarder) and every Service of the cluster. A headless
// Service maps to its ready endpoint IPs; a ClusterIP Service maps to the
// first (lowest) ready endpoint IP, because nothing would route its
// ClusterIP. Pods with hostname+subdomain behind a headless Service get
// their DNS names too. Same-namespace short names only.
package main

import (
	"net/netip"
	"sort"
	"strings"

	"rayop.local/process-node/sandbox"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

const clusterDomain = "cluster.local"

// hostsSelf is the pod whose hosts file is built.
type hostsSelf struct {
	Namespace, Hostname, Subdomain string
	IP                             netip.Addr
}

// serviceEndpoints are a Service's usable endpoint addresses.
type serviceEndpoints struct {
	IPs       []netip.Addr          // sorted, unique
	Hostnames map[string]netip.Addr // endpoint hostname -> IP (headless pod DNS)
}

// endpointsOf collects the IPv4 endpoints of svc from its slices: ready
// ones (nil ready = ready), or all when publishNotReadyAddresses.
func endpointsOf(svc *v1.Service, slices []*discoveryv1.EndpointSlice) serviceEndpoints {
	seen := map[netip.Addr]bool{}
	out := serviceEndpoints{Hostnames: map[string]netip.Addr{}}
	for _, s := range slices {
		if s.Namespace != svc.Namespace || s.Labels[discoveryv1.LabelServiceName] != svc.Name || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, ep := range s.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				if !seen[ip] {
					seen[ip] = true
					out.IPs = append(out.IPs, ip)
				}
				if ep.Hostname != nil && *ep.Hostname != "" {
					out.Hostnames[*ep.Hostname] = ip
				}
			}
		}
	}
	sort.Slice(out.IPs, func(i, j int) bool { return out.IPs[i].Less(out.IPs[j]) })
	return out
}

// dnsNames are the names of base (e.g. "svc" or "host.svc") in namespace
// ns as seen from a pod in fromNS.
func dnsNames(base, ns, fromNS string) []string {
	names := []string{base + "." + ns + ".svc." + clusterDomain, base + "." + ns + ".svc", base + "." + ns}
	if ns == fromNS {
		names = append(names, base)
	}
	return names
}

// hostsEntries builds the hosts file of self.
func hostsEntries(self hostsSelf, gateway netip.Addr, services []*v1.Service, slices []*discoveryv1.EndpointSlice) []sandbox.HostEntry {
	entries := []sandbox.HostEntry{{IP: netip.MustParseAddr("127.0.0.1"), Names: []string{"localhost"}}}
	if self.IP.IsValid() {
		own := []string{}
		if self.Subdomain != "" {
			own = append(own, self.Hostname+"."+self.Subdomain+"."+self.Namespace+".svc."+clusterDomain,
				self.Hostname+"."+self.Subdomain+"."+self.Namespace+".svc")
		}
		own = append(own, self.Hostname)
		entries = append(entries, sandbox.HostEntry{IP: self.IP, Names: own})
	}
	entries = append(entries, sandbox.HostEntry{IP: gateway, Names: []string{
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + clusterDomain,
	}})

	sorted := append([]*v1.Service(nil), services...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	for _, svc := range sorted {
		if svc.Namespace == "default" && svc.Name == "kubernetes" {
			continue
		}
		if svc.Spec.Type == v1.ServiceTypeExternalName {
			continue
		}
		eps := endpointsOf(svc, slices)
		if len(eps.IPs) == 0 {
			continue
		}
		names := dnsNames(svc.Name, svc.Namespace, self.Namespace)
		if svc.Spec.ClusterIP == v1.ClusterIPNone {
			for _, ip := range eps.IPs {
				entries = append(entries, sandbox.HostEntry{IP: ip, Names: names})
			}
			hostnames := make([]string, 0, len(eps.Hostnames))
			for h := range eps.Hostnames {
				hostnames = append(hostnames, h)
			}
			sort.Strings(hostnames)
			for _, h := range hostnames {
				entries = append(entries, sandbox.HostEntry{IP: eps.Hostnames[h], Names: dnsNames(h+"."+svc.Name, svc.Namespace, self.Namespace)})
			}
		} else {
			entries = append(entries, sandbox.HostEntry{IP: eps.IPs[0], Names: names})
		}
	}
	return entries
}

// renderHosts is the text of a hosts file (used to skip identical rewrites).
func renderHosts(entries []sandbox.HostEntry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.IP.String() + "\t" + strings.Join(e.Names, " ") + "\n")
	}
	return b.String()
}
