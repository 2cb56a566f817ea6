//! Support code for the fuzz targets: an independent oracle for the filename rules.
#![forbid(unsafe_code)]

pub mod rules;
