//! A pool of scratch buffers reused across layers and across forward calls.
//!
//! Every intermediate activation, packing panel and statistics vector of a forward pass is taken
//! from a [`Workspace`] and given back when no longer needed. Buffers are pooled by *size class*
//! (the requested length rounded up to one of 8 steps per power of two), so a forward pass that
//! repeats the exact sequence of requests of an earlier one — same network, same batch, same
//! thread count — always finds a free buffer of the right class and allocates nothing: after the
//! first call each class holds as many buffers as were ever live at once.
//!
//! Buffers come back with stale contents from earlier use; every kernel writes its whole output.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

/// A buffer taken from a [`Workspace`]: a slice of `len` values backed by a pooled `Vec`.
/// Give it back with [`Workspace::give`] (or `give64`); a dropped `Buf` is simply freed.
#[derive(Debug)]
pub(crate) struct Buf<T> {
    data: Vec<T>,
    len: usize,
}

impl<T> Deref for Buf<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        &self.data[..self.len]
    }
}

impl<T> DerefMut for Buf<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.data[..self.len]
    }
}

/// Free buffers of one element type, keyed by size class.
#[derive(Debug)]
struct Pool<T> {
    free: BTreeMap<usize, Vec<Vec<T>>>,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool { free: BTreeMap::new() }
    }
}

/// The size class of a request: `len` rounded up so that classes are at most 12.5 % apart.
fn size_class(len: usize) -> usize {
    if len <= 64 {
        return if len == 0 { 0 } else { 64 };
    }
    let bits = usize::BITS - len.leading_zeros();
    let shift = bits.saturating_sub(4);
    len.div_ceil(1 << shift) << shift
}

impl<T: Copy + Default> Pool<T> {
    fn take(&mut self, len: usize, allocations: &mut usize, bytes: &mut usize) -> Buf<T> {
        let class = size_class(len);
        if let Some(v) = self.free.get_mut(&class).and_then(|list| list.pop()) {
            return Buf { data: v, len };
        }
        if class > 0 {
            *allocations += 1;
            *bytes += class * std::mem::size_of::<T>();
        }
        Buf { data: vec![T::default(); class], len }
    }

    fn give(&mut self, buf: Buf<T>) {
        let class = buf.data.len();
        if class > 0 {
            self.free.entry(class).or_default().push(buf.data);
        }
    }
}

/// Scratch memory for [`Network::forward`](super::Network::forward): create one per thread that
/// runs networks and pass it to every call. Not tied to one network; a workspace that served
/// several shapes keeps buffers for all of them until [`Workspace::clear`].
#[derive(Debug, Default)]
pub struct Workspace {
    f32s: Pool<f32>,
    f64s: Pool<f64>,
    allocations: usize,
    bytes: usize,
    /// The UNet's skip stack, kept so that its `Vec` is not reallocated per call.
    pub(crate) skips: Vec<Buf<f32>>,
}

impl Workspace {
    /// An empty workspace; buffers are allocated on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of buffers allocated so far (a repeated forward of the same shape adds none).
    pub fn allocations(&self) -> usize {
        self.allocations
    }

    /// Bytes held by all buffers allocated so far (in use or free).
    pub fn allocated_bytes(&self) -> usize {
        self.bytes
    }

    /// Frees every pooled buffer (the counters keep counting).
    pub fn clear(&mut self) {
        self.f32s = Pool::default();
        self.f64s = Pool::default();
        self.skips = Vec::new();
        self.bytes = 0;
    }

    /// An f32 buffer of `len` values with unspecified contents.
    pub(crate) fn take(&mut self, len: usize) -> Buf<f32> {
        self.f32s.take(len, &mut self.allocations, &mut self.bytes)
    }

    /// Returns an f32 buffer to the pool.
    pub(crate) fn give(&mut self, buf: Buf<f32>) {
        self.f32s.give(buf)
    }

    /// An f64 buffer of `len` values with unspecified contents.
    pub(crate) fn take64(&mut self, len: usize) -> Buf<f64> {
        self.f64s.take(len, &mut self.allocations, &mut self.bytes)
    }

    /// Returns an f64 buffer to the pool.
    pub(crate) fn give64(&mut self, buf: Buf<f64>) {
        self.f64s.give(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_tight_and_monotone() {
        let mut prev = 0;
        for len in 0..100_000usize {
            let c = size_class(len);
            assert!(c >= len && c >= prev);
            assert!(len <= 64 || (c as f64) <= len as f64 * 1.125 + 1.0, "{len} -> {c}");
            prev = c;
        }
    }

    #[test]
    fn repeated_sequence_allocates_once() {
        let mut ws = Workspace::new();
        for round in 0..3 {
            let a = ws.take(1000);
            let b = ws.take(1000);
            ws.give(a);
            let c = ws.take(5000);
            let d = ws.take64(7);
            ws.give(b);
            ws.give(c);
            ws.give64(d);
            assert_eq!(ws.allocations(), 4, "round {round}");
        }
        assert_eq!(ws.take(0).len(), 0);
        assert_eq!(ws.allocations(), 4);
    }
}
