//! The `bridgectl` tests, one test binary: the real binary run against
//! one moto server shared by all tests (`common::stack`), each test with
//! its own tables and queues.

// The set-up lives in tests/common/ so a later test binary can share it.
#[path = "../common/mod.rs"]
mod common;
mod subcommands;
mod target;
