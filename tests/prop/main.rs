#![allow(
    unreachable_pub,
    reason = "a test binary: `pub` only spans its own modules"
)]

//! Property tests of the parsers that read what others wrote (upstream
//! pages, filenames, requirements and lock files, `Range` headers, mirror
//! paths): random input never panics them, and what larder renders parses
//! back to what it rendered. A fixed number of cases keeps the suite fast.

mod filenames;
mod mirror_paths;
mod pages;
mod ranges;
mod requirements;

use proptest::test_runner::Config as ProptestConfig;

/// Cases per property: enough to find the shallow bugs every run, few
/// enough to keep this binary to seconds.
const CASES: u32 = 256;

/// No regression files: a failure prints its minimal input, which becomes
/// a unit test next to the parser it broke.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(CASES)
    }
}
