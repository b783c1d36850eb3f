//! Stored files leave through `sendfile(2)`, zero-copy, like a static web
//! server's, although hyper only knows how to write bytes it holds.
//!
//! The trick has two halves that meet at an address:
//!
//! - [`map`] turns the requested bytes of a stored file into a read-only
//!   shared memory map, registers the map's address range with the file it
//!   came from, and hands hyper the map as an ordinary `Bytes` body.
//!   [`in_memory_file`] does the same for a large body made in memory (a
//!   rendered page served many times), through a sealed `memfd`. Nothing
//!   in user space reads it, so no page of it is ever faulted in: the map
//!   costs address space, not memory, however large the file or many the
//!   clients.
//! - [`Socket`], the connection type every accepted connection is wrapped
//!   in, looks up the address of each buffer hyper asks it to write. A
//!   registered one is sent from the file with `sendfile(2)`; anything else
//!   (headers, pages, uploads' answers) is written as usual.
//!
//! Whatever reads a mapped body anyway (an HTTP/2 connection's framing, a
//! test) gets the file's true bytes: the shortcut changes how bytes travel,
//! never which. The one requirement is that a mapped file is never
//! truncated while it is being served, which holds because blobs are written
//! once under a staging name and renamed into place (see `store`), and memory
//! files are sealed against any change.

mod mapping;
mod socket;

pub use mapping::{in_memory_file, map};
pub use socket::{Listener, Socket};
