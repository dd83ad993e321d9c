//! Stele's registry server: the Confluent-compatible REST API over `SQLite` or
//! `PostgreSQL` storage.
//!
//! # Layout
//! - [`http`]: routes, transport rules (media types, Jackson-style coercion,
//!   `/contexts/{ctx}/...` forms), request logging.
//! - [`service`]: the registry's rules (registration, lookup, deletes, config,
//!   mode, compatibility), independent of HTTP.
//! - [`store`]: the storage trait and its backends.
//! - [`error`]: domain errors and the one table of Confluent error codes.
//! - [`subject`]: subject names and contexts.
//! - [`settings`], [`telemetry`], [`server`]: start-up, logs, serving.

pub mod auth;
pub mod console;
pub mod error;
pub mod hash;
pub mod http;
pub mod metrics;
pub mod server;
pub mod service;
pub mod settings;
pub mod store;
pub mod subject;
pub mod telemetry;
pub mod tls;
