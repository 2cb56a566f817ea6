//! Support code for the fuzz targets: the independent oracle for the filename rules, shared
//! with the integration tests (one copy, so the two can never drift apart).
#![forbid(unsafe_code)]

#[path = "../../core/tests/common/rules.rs"]
pub mod rules;
