//! What a study writes: CSV files and manifest, charts, report.

pub mod charts;
pub mod folder;
pub mod report;
pub mod results;
pub mod steady;
pub mod summary;

pub use results::{Manifest, Results, RunRecord};
