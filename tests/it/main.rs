#![allow(
    unreachable_pub,
    reason = "a test binary: `pub` only spans its own modules"
)]

//! The one integration-test binary: real HTTP servers on 127.0.0.1, the built
//! `larder` binary run as users run it.

mod check_config;
mod clients;
mod common;
mod contrib;
mod data_dir;
mod download;
mod encoding;
mod export;
mod export_deps;
mod fidelity;
mod files;
mod import;
mod limits;
mod maintenance;
mod mirror;
mod packaging;
mod private;
mod pypicache;
mod scale;
mod shutdown;
mod simple_api;
mod upload;
mod warm;
