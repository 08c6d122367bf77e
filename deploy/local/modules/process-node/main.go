// Command rayop-process-node is a node of the local control plane whose pods
// run as real processes, one network namespace per pod (see README.md).
package main

import (
	_ "github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	_ "k8s.io/client-go/kubernetes"

	"rayop.local/process-node/sandbox"
)

func main() {
	if sandbox.MaybeReexec() {
		return
	}
}
