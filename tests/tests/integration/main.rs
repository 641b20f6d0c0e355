//! The integration tests, one test binary: the AWS SDK and the handlers are
//! linked once, and all tests share the binary's moto server
//! (`integration_tests::moto_endpoint`), each with its own tables and
//! queues (`integration_tests::unique`).
//!
//! `security_secrets.rs` stays a binary of its own: it installs the
//! process-wide tracing subscriber that captures every log line, which the
//! tests here would race to install and would write into.

mod adapter_contract;
mod capacity;
mod contracts;
mod event_source;
mod notifications;
mod order_drafts;
mod order_requests;
mod payments;
mod pipeline;
mod platforms;
mod refunds;
mod reliability_chaos;
mod sealed_secrets;
mod security_auth;
mod security_ingest;
mod security_template;
mod template;
mod webhook_interop;
mod write_back;
