use lambda_runtime::{run, service_fn, LambdaEvent};
use rescan::{handle, RescanContext};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge::logging::LogSetup::lambda().init();
    let context = RescanContext::from_env().await?;
    let context = &context;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move { handle(context, event).await },
    ))
    .await
}
