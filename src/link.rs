//! The line a node opens its registration link to the LB with. The node
//! writes it (`roles::node::register`) and the LB parses it
//! (`roles::lb::protocol`); it lives here so neither role borrows the
//! other's internals. The rest of the link's lines in cluster mode are in
//! [`crate::cluster::wire`].

use crate::addr::HostPort;

/// The line a cachectl node sends to register and open its liveness link.
pub fn register_line(addr: &HostPort, cores: usize, core_ports: &[u16]) -> String {
    let host = if addr.host.contains(':') {
        format!("[{}]", addr.host)
    } else {
        addr.host.clone()
    };
    if core_ports.is_empty() {
        return format!("REGISTER:{host}:{}:{cores}\n", addr.port);
    }
    let ports: Vec<String> = core_ports.iter().map(u16::to_string).collect();
    format!(
        "REGISTER:{host}:{}:{cores}:{}\n",
        addr.port,
        ports.join(",")
    )
}
