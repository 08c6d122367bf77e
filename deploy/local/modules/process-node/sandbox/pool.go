// Address pool of a pod subnet: every address except the network address,
// the gateway (first host, on the bridge) and the broadcast address. Handed
// out round-robin so a freed address is reused as late as possible (other
// pods' ARP caches forget the old owner meanwhile). Safe for concurrent use.
package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// errPoolExhausted is returned when every address of the subnet is in use.
var errPoolExhausted = errors.New("sandbox: no free address in the pod subnet")

type addrPool struct {
	mu      sync.Mutex
	first   uint32 // first allocatable address (gateway + 1)
	last    uint32 // last allocatable address (broadcast - 1)
	next    uint32 // where the next search starts
	used    map[uint32]bool
	gateway netip.Addr
}

func v4(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func fromV4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

// newAddrPool makes the pool of an IPv4 prefix of at most /30.
func newAddrPool(prefix netip.Prefix) (*addrPool, error) {
	if !prefix.IsValid() || !prefix.Addr().Is4() {
		return nil, fmt.Errorf("sandbox: pod subnet %v is not an IPv4 prefix", prefix)
	}
	if prefix.Bits() > 30 {
		return nil, fmt.Errorf("sandbox: pod subnet %v is too small (at most /30)", prefix)
	}
	network := v4(prefix.Masked().Addr())
	broadcast := network | (^uint32(0) >> prefix.Bits())
	return &addrPool{
		first:   network + 2,
		last:    broadcast - 1,
		next:    network + 2,
		used:    map[uint32]bool{},
		gateway: fromV4(network + 1),
	}, nil
}

// allocate takes a free address.
func (p *addrPool) allocate() (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	size := p.last - p.first + 1
	for i := uint32(0); i < size; i++ {
		a := p.first + (p.next-p.first+i)%size
		if !p.used[a] {
			p.used[a] = true
			p.next = a + 1
			if p.next > p.last {
				p.next = p.first
			}
			return fromV4(a), nil
		}
	}
	return netip.Addr{}, errPoolExhausted
}

// release gives an address back; unknown addresses are ignored.
func (p *addrPool) release(a netip.Addr) {
	if !a.Is4() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.used, v4(a))
}
