//! What `larder -V` and `larder --version` print, from what `build.rs` found.

/// `-V`: the crate version, the commit and the build date on one line.
pub(super) const SHORT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LARDER_GIT_COMMIT"),
    " ",
    env!("LARDER_BUILD_DATE"),
    ")"
);

/// `--version`: the same, one field a line, plus the target, for bug reports.
pub(super) const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("LARDER_GIT_COMMIT"),
    "\nbuild date: ",
    env!("LARDER_BUILD_DATE"),
    "\ntarget: ",
    env!("LARDER_BUILD_TARGET"),
);

/// The build date alone (YYYY-MM-DD, or the SOURCE_DATE_EPOCH one), for man pages.
pub(super) const BUILD_DATE: &str = env!("LARDER_BUILD_DATE");
