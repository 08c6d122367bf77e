//! Free TCP ports on loopback for the components.
//!
//! Ports are found by binding `127.0.0.1:0`; all listeners of one call are held
//! until every port is chosen, so the ports of one plane are distinct. Another
//! process may still take a port before the component binds it; the plane
//! start-up retries with fresh ports when a component fails to bind.

use std::net::TcpListener;

use anyhow::{Context, Result};

/// Returns `N` distinct free loopback ports.
pub fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let l = TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
        *port = l.local_addr()?.port();
        listeners.push(l);
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_nonzero() {
        let ports = free_ports::<6>().unwrap();
        let mut sorted = ports.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 6);
        assert!(ports.iter().all(|p| *p != 0));
    }
}
