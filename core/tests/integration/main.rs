//! The core crate's integration tests, in one binary (one link, not three): the data sets
//! against their published statistics (`data_sets`), malformed model files (`modelfile_malformed`),
//! the solvers' orders on an exact Gaussian-mixture field (`solver_order`) and the fuzz target's
//! check replayed on its seeds and past crashes (`fuzz_regressions`).

mod data_sets;
mod fuzz_regressions;
mod modelfile_malformed;
mod solver_order;
