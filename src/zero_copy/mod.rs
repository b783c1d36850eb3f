//! Stored files leave through `sendfile(2)`, zero-copy, like a static web
//! server's, although hyper only knows how to write bytes it holds.
//!
//! The trick has two halves that meet at an address:
//!
//! - [`map`] turns the requested bytes of a stored file into a read-only
//!   shared memory map, registers the map's address range with the file it
//!   came from, and hands hyper the map as an ordinary `Bytes` body. Nothing
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
//! once under a staging name and renamed into place (see `store`).
//!
//! Pages are not sent this way: rendered pages live in memory, and a
//! sealed `memfd` holding one was measured slower to `sendfile` than
//! copying the page (0.65× against 0.8× nginx's rate for the 3,000-file
//! page).

mod mapping;
mod socket;

pub use mapping::map;
pub use socket::Socket;
