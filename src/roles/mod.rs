//! Roles: the processes `cachectl` can run. Everything with sockets,
//! executors and tasks lives here, on top of `proto`, `cmd` and `store`.

pub mod lb;
pub mod node;
