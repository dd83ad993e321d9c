//! Stele's end-to-end tests: one binary, the real `stele` process, real HTTP.

mod auth;
mod browser;
mod buf;
mod cli;
mod clients;
mod conformance;
mod console;
mod contracts;
mod deploy;
mod migrate;
mod replicas;
mod stress;
mod telemetry;
mod tls;
mod webhooks;
