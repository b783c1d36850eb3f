//! The one integration-test binary: real HTTP servers on 127.0.0.1, the built
//! `larder` binary run as users run it.

mod check_config;
mod common;
mod download;
