//! Roles: the processes `cachectl` can run. Everything with sockets,
//! executors and tasks lives here, on top of `proto`, `cmd` and `store`.

pub mod bench;
pub mod children;
pub mod client;
pub mod cluster;
pub mod lb;
pub mod lifecycle;
pub mod node;
pub mod origin;
