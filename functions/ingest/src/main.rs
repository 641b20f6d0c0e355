use ingest::{handle, IngestContext};
use lambda_http::{run, service_fn, Request};
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    bridge::logging::LogSetup::lambda().init();
    // Once per execution environment: SDK clients, connection pools, cache.
    let context = IngestContext::from_env().await?;
    let context = &context;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(handle(context, request).await)
    }))
    .await
}
