//! Stored files as memory maps registered by address, so that [`Socket`]
//! can tell their bytes from any others and send them from the file.
//!
//! [`Socket`]: super::Socket

// mmap, munmap and a slice over the map need `unsafe`; each use says why it
// is sound.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use rustix::mm::{MapFlags, ProtFlags};

/// The live maps by start address.
static REGIONS: Mutex<BTreeMap<usize, Region>> = Mutex::new(BTreeMap::new());
/// How many maps are live: while none is, writes skip the lock.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

struct Region {
    /// Unique among all maps ever made, unlike an address.
    id: u64,
    end: usize,
    file: Arc<File>,
    /// The file offset of the map's first byte.
    offset: u64,
}

/// Where the byte at some address of a live map comes from.
pub(super) struct Source {
    /// Which map: addresses are reused once a map is gone.
    pub map: u64,
    pub file: Arc<File>,
    pub offset: u64,
}

/// The file and offset behind `ptr`, if it points into a live map.
pub(super) fn source_of(ptr: *const u8) -> Option<Source> {
    if LIVE.load(Ordering::Acquire) == 0 {
        return None;
    }
    let addr = ptr as usize;
    let regions = REGIONS.lock().unwrap_or_else(PoisonError::into_inner);
    let (&start, region) = regions.range(..=addr).next_back()?;
    (addr < region.end).then(|| Source {
        map: region.id,
        file: region.file.clone(),
        offset: region.offset + (addr - start) as u64,
    })
}

/// The bytes `start..end` of `file` as a body whose bytes [`Socket`] sends
/// with `sendfile(2)`.
///
/// [`Socket`]: super::Socket
pub fn map(file: Arc<File>, start: u64, end: u64) -> io::Result<Bytes> {
    if start >= end {
        return Ok(Bytes::new());
    }
    // mmap wants a page-aligned offset: map from the page holding `start`.
    let page = rustix::param::page_size() as u64;
    let base = start - start % page;
    let len = usize::try_from(end - base).map_err(io::Error::other)?;
    let lead = (start - base) as usize;
    // SAFETY: a new map at an address of the kernel's choosing aliases no
    // Rust object. Reading it is sound while the file is not truncated:
    // blobs are written once under a staging name, renamed into place and
    // never modified (a pruned blob is unlinked, which leaves the map whole).
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ,
            MapFlags::SHARED,
            &*file,
            base,
        )
    }?;
    let addr = ptr as usize;
    REGIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            addr,
            Region {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                end: addr + len,
                file,
                offset: base,
            },
        );
    LIVE.fetch_add(1, Ordering::Release);
    let map = Map {
        ptr: ptr.cast(),
        len,
    };
    Ok(Bytes::from_owner(map).slice(lead..))
}

/// One live map; unregistered and unmapped when the last `Bytes` of it goes.
struct Map {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the map is read-only and owned by this value alone; moving it or
// reading it from several threads is fine.
unsafe impl Send for Map {}
unsafe impl Sync for Map {}

impl AsRef<[u8]> for Map {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr..ptr + len` is a live read-only map for as long as
        // `self` is (see `map` for why its pages stay readable).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // Unregister first: once unmapped, the addresses may be reused by
        // memory that must not be mistaken for this file.
        let removed = REGIONS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(self.ptr as usize));
        if removed.is_some() {
            LIVE.fetch_sub(1, Ordering::Release);
        }
        // SAFETY: exactly the range mmap returned; no `Bytes` of it is left.
        if let Err(e) = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) } {
            tracing::warn!("cannot unmap a stored file's map: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(bytes: &[u8]) -> Arc<File> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        Arc::new(file)
    }

    #[test]
    fn a_map_holds_the_files_bytes_and_knows_their_offsets() {
        let content: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let file = file_with(&content);
        // An unaligned start: the map begins at the page holding it.
        let body = map(file, 5_000, 12_345).unwrap();
        assert_eq!(&body[..], &content[5_000..12_345]);
        for at in [0, 1, 4_096, 7_344] {
            let source = source_of(body[at..].as_ptr()).expect("a mapped byte");
            assert_eq!(source.offset, 5_000 + at as u64, "byte {at}");
        }
        // A slice of it still points into the map.
        let tail = body.slice(7_000..);
        assert_eq!(source_of(tail.as_ptr()).unwrap().offset, 12_000);
        // Heap bytes are not mistaken for a file's.
        let heap = content.clone();
        assert!(source_of(heap.as_ptr()).is_none());
        let addr = body.as_ptr();
        drop((body, tail));
        assert!(source_of(addr).is_none(), "unregistered once dropped");
    }

    #[test]
    fn an_empty_range_is_an_empty_body() {
        let file = file_with(b"abc");
        assert!(map(file.clone(), 3, 3).unwrap().is_empty());
        assert!(map(file, 2, 1).unwrap().is_empty());
    }
}
