//! Stele's end-to-end tests: one binary, the real `stele` process, real HTTP.

mod buf;
mod cli;
mod clients;
mod conformance;
mod contracts;
mod replicas;
mod stress;
mod telemetry;
