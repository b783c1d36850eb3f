//! Progress of long commands (`export`, `import`), reported by the `App`
//! method and drawn by the CLI (a progress bar on a terminal).

/// Receives progress in bytes. Implementations must be cheap: they are
/// called once per file.
pub trait Progress: Send + Sync {
    /// The work ahead, in bytes (called once, before any `advance`).
    fn start(&self, total_bytes: u64);
    /// `bytes` more are done; `name` is the file just handled.
    fn advance(&self, bytes: u64, name: &str);
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _total_bytes: u64) {}
    fn advance(&self, _bytes: u64, _name: &str) {}
}
