//! Building blocks of the local stack, shared with the integration tests:
//! moto server, API Gateway events from plain HTTP, and Lambda's SQS event
//! source mapping.

pub mod apigw;
pub mod chaos;
pub mod event_source;
pub mod http_front;
pub mod moto;
pub mod watch;
