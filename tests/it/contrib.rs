//! The service files in `contrib/`, checked as an init system would use them:
//! the OpenRC script run outside OpenRC with stubs for what it calls (and, in
//! one test, a stub that really starts the built larder with the arguments),
//! and the systemd unit through `systemd-analyze verify`.

mod openrc;
mod openrc_serve;
mod systemd;

use std::path::{Path, PathBuf};

/// `contrib/<rel>` in this checkout.
fn contrib(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(rel)
}
