//! The local event source's batching window (`MaximumBatchingWindowInSeconds`,
//! which template.yaml sets on the notification queue's source): a batch
//! that is not full waits for the messages that arrive within the window;
//! without a window it is invoked with what the first receive returned.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use integration_tests::*;
use lambda_runtime::LambdaEvent;
use local_stack::event_source::{poll_once, EventSourceSettings};
use std::time::Duration;

/// Sends "first" now and "second" 300 ms later, polls once and returns the
/// bodies the invocation got.
async fn batch_with_window(batching_window: Duration) -> Vec<String> {
    let stack = Stack::start().await;
    let sqs = stack.sqs();
    let queue_url = stack.queues.queue_url.clone();
    let send = {
        let (sqs, queue_url) = (sqs.clone(), queue_url.clone());
        move |body: &'static str| {
            let (sqs, queue_url) = (sqs.clone(), queue_url.clone());
            async move {
                sqs.send_message()
                    .queue_url(queue_url)
                    .message_body(body)
                    .send()
                    .await
                    .expect("sent");
            }
        }
    };
    send("first").await;
    let send_later = send.clone();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        send_later("second").await;
    });
    let settings = EventSourceSettings {
        queue_url: queue_url.clone(),
        queue_arn: stack.queues.queue_arn.clone(),
        region: "eu-west-1".into(),
        batch_size: 10,
        wait: Duration::from_secs(1),
        batching_window,
        function_timeout: Duration::from_secs(30),
    };
    let bodies = std::sync::Mutex::new(Vec::new());
    let outcome = poll_once(&sqs, &settings, |event: LambdaEvent<SqsEvent>| {
        let got: Vec<String> = event
            .payload
            .records
            .into_iter()
            .filter_map(|r| r.body)
            .collect();
        bodies.lock().expect("bodies").extend(got);
        async { Ok::<_, std::convert::Infallible>(SqsBatchResponse::default()) }
    })
    .await
    .expect("polled");
    later.await.expect("second sent");
    assert_eq!(outcome.deleted, outcome.received, "all acknowledged");
    bodies.into_inner().expect("bodies")
}

#[tokio::test]
async fn a_batching_window_waits_for_the_messages_that_arrive_within_it() {
    assert_eq!(
        batch_with_window(Duration::from_secs(3)).await,
        ["first", "second"]
    );
}

#[tokio::test]
async fn without_a_window_the_batch_is_what_the_first_receive_returned() {
    assert_eq!(batch_with_window(Duration::ZERO).await, ["first"]);
}
