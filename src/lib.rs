//! Larder keeps the packages your builds eat.
//!
//! One library crate behind a thin binary. A request flows
//! `http` handler → [`app::App`] use case → `index` / `upstream` / `catalog` → `store`;
//! the CLI (`cli`) builds the same `App` from the same [`config::Config`].
//!
//! - [`model`]: pure domain types (project names, filenames, digests, pages).
//! - [`index`]: the Simple API formats: parse upstream HTML/JSON, render HTML/JSON.
//! - [`upstream`]: the HTTP client (timeouts, retries, proxies, redacted URLs).
//! - [`store`]: content-addressed blobs written through hashing staging files.
//! - [`catalog`]: what larder knows (blobs and their names), in SQLite.
//! - [`download`]: the `larder download` utility and its download cache.
//! - [`auth`]: credentials, API tokens and argon2 password hashes.
//! - [`export`]: offline bundle layouts, their `MANIFEST`, `.tar.zst` archives.
//! - [`zero_copy`]: bodies that sockets send with `sendfile(2)`, never copying them.
//!
//! See `ARCHITECTURE.md` for where to start reading.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod download;
pub mod error;
pub mod export;
pub mod http;
pub mod index;
pub mod model;
pub mod requirements;
pub mod store;
pub mod upstream;
pub mod zero_copy;

pub use error::{Error, ErrorKind, Result};
