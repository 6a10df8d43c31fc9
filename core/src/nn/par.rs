//! Work splitting for the CPU kernels: rayon behind the `parallel` feature (never on wasm32),
//! a plain loop otherwise.
//!
//! Every kernel partitions its *output* into disjoint chunks and computes each output element
//! entirely inside one task, with a summation order that does not depend on the chunking. The
//! number of tasks may therefore depend on the thread count while the results stay bit-identical.

/// Below this much work (multiply-adds or element operations) a kernel runs as one task.
const MIN_PARALLEL_WORK: usize = 1 << 17;

/// Threads of the current rayon pool (1 without the `parallel` feature).
pub(crate) fn threads() -> usize {
    #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(all(feature = "parallel", not(target_arch = "wasm32"))))]
    {
        1
    }
}

/// How many tasks to split `items` independent output chunks into, given the total `work`.
pub(crate) fn num_tasks(items: usize, work: usize) -> usize {
    let t = threads();
    if t <= 1 || work < MIN_PARALLEL_WORK || items <= 1 {
        1
    } else {
        items.min(4 * t)
    }
}

/// Splits `out` into items of `item_len` values (the last may be shorter), groups consecutive
/// items into at most `tasks` tasks and runs `f(first_item, out_chunk, scratch_slot)` for each,
/// where `scratch` is cut into `tasks` equal private slots (empty if `scratch` is empty).
pub(crate) fn for_each_task<S, F>(out: &mut [f32], item_len: usize, tasks: usize, scratch: &mut [S], f: F)
where
    S: Send,
    F: Fn(usize, &mut [f32], &mut [S]) + Sync + Send,
{
    if out.is_empty() || item_len == 0 {
        return;
    }
    let tasks = tasks.max(1);
    let items = out.len().div_ceil(item_len);
    let per_task = items.div_ceil(tasks);
    let chunk = per_task * item_len;
    let slot = scratch.len() / tasks;
    #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
    if tasks > 1 && items > per_task {
        use rayon::prelude::*;
        if slot == 0 {
            out.par_chunks_mut(chunk).enumerate().for_each(|(i, o)| f(i * per_task, o, &mut []));
        } else {
            out.par_chunks_mut(chunk)
                .zip(scratch.par_chunks_mut(slot))
                .enumerate()
                .for_each(|(i, (o, s))| f(i * per_task, o, s));
        }
        return;
    }
    for (i, o) in out.chunks_mut(chunk).enumerate() {
        f(i * per_task, o, &mut scratch[..slot]);
    }
}
