//! stele-compat's tests: one integration binary.

mod avro;
mod fixtures;
mod json;
mod protobuf;
