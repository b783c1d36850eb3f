//! Counters for `/metrics`, in the Prometheus text format. Plain atomics:
//! a handful of numbers needs no metrics framework.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    file_hits: AtomicU64,
    file_misses: AtomicU64,
    page_hits: AtomicU64,
    page_misses: AtomicU64,
    bytes_from_cache: AtomicU64,
    bytes_from_upstream: AtomicU64,
    upstream_errors: AtomicU64,
    downloads_in_flight: AtomicU64,
}

impl Metrics {
    pub fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    pub(crate) fn file_hit(&self) {
        self.file_hits.fetch_add(1, Relaxed);
    }

    pub(crate) fn file_miss(&self) {
        self.file_misses.fetch_add(1, Relaxed);
    }

    pub(crate) fn page_hit(&self) {
        self.page_hits.fetch_add(1, Relaxed);
    }

    pub(crate) fn page_miss(&self) {
        self.page_misses.fetch_add(1, Relaxed);
    }

    pub fn bytes_from_cache(&self, n: usize) {
        self.bytes_from_cache.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn bytes_from_upstream(&self, n: usize) {
        self.bytes_from_upstream.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn download_started(&self) {
        self.downloads_in_flight.fetch_add(1, Relaxed);
    }

    /// Downloads running now.
    pub fn downloads_in_flight(&self) -> u64 {
        self.downloads_in_flight.load(Relaxed)
    }

    pub(crate) fn download_finished(&self) {
        self.downloads_in_flight.fetch_sub(1, Relaxed);
    }

    /// The counters `larder stats` adds up over restarts (see
    /// `App::flush_counters`), by the names they are persisted under.
    pub(crate) fn totals(&self) -> [(&'static str, u64); 6] {
        [
            ("file_hits", self.file_hits.load(Relaxed)),
            ("file_misses", self.file_misses.load(Relaxed)),
            ("page_hits", self.page_hits.load(Relaxed)),
            ("page_misses", self.page_misses.load(Relaxed)),
            ("bytes_from_cache", self.bytes_from_cache.load(Relaxed)),
            (
                "bytes_from_upstream",
                self.bytes_from_upstream.load(Relaxed),
            ),
        ]
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 9] = [
            (
                "larder_http_requests_total",
                "counter",
                "HTTP requests received",
                &self.requests,
            ),
            (
                "larder_file_hits_total",
                "counter",
                "package files served from the store",
                &self.file_hits,
            ),
            (
                "larder_file_misses_total",
                "counter",
                "package files fetched from an upstream",
                &self.file_misses,
            ),
            (
                "larder_page_hits_total",
                "counter",
                "project pages served without asking an upstream",
                &self.page_hits,
            ),
            (
                "larder_page_misses_total",
                "counter",
                "project pages fetched or revalidated upstream",
                &self.page_misses,
            ),
            (
                "larder_bytes_served_from_cache_total",
                "counter",
                "file bytes sent from the store",
                &self.bytes_from_cache,
            ),
            (
                "larder_bytes_from_upstream_total",
                "counter",
                "file bytes received from upstreams",
                &self.bytes_from_upstream,
            ),
            (
                "larder_upstream_errors_total",
                "counter",
                "failed upstream requests",
                &self.upstream_errors,
            ),
            (
                "larder_downloads_in_flight",
                "gauge",
                "downloads running now",
                &self.downloads_in_flight,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Relaxed)
            );
        }
        out
    }
}
