use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, LambdaEvent};
use transfer::{handle, TransferContext};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge::logging::LogSetup::lambda().init();
    // Once per execution environment: SDK clients, e-conomic connection
    // pool and caches.
    let context = TransferContext::from_env().await?;
    let context = &context;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        handle(context, event).await
    }))
    .await
}
