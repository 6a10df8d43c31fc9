//! The core crate's integration tests, in one binary (one link, not three): the data sets
//! against their published statistics (`data_sets`), malformed model files (`modelfile_malformed`)
//! and the solvers' orders on an exact Gaussian-mixture field (`solver_order`).

mod data_sets;
mod modelfile_malformed;
mod solver_order;
