//! The numeric recipe of training, free of any tensor library: how times are drawn, the
//! pseudo-Huber constant, learning-rate warmup and EMA decay. The burn trainer (`train`) calls
//! these on the host, so the rules are tested here once and shared by every method.

pub mod schedule;
pub mod time_dist;
