//! The adapter contract (`integration_tests::contract`) against both
//! backends: the production adapters (DynamoDB and SQS in moto server,
//! e-conomic in the sandbox over HTTP) and the in-memory ones. Every check
//! runs once per backend, as `aws::<check>` and `memory::<check>`.

use bridge::adapters::dynamodb::{provision, DynamoOrderStore, DynamoShopStore};
use bridge::adapters::economic::{ClientConfig, EconomicClient, EconomicInvoicing};
use bridge::adapters::memory::{
    ManualClock, MemoryInvoicing, MemoryOrderStore, MemoryShopStore, MemoryTransferQueue,
};
use bridge::adapters::sqs::SqsTransferQueue;
use bridge::domain::secret::Secret;
use bridge::domain::shop::EconomicCredentials;
use bridge::ports::InboundMessage;
use economic_sandbox::{SandboxConfig, SandboxHandle};
use integration_tests::contract::{self, Backend, MAX_RECEIVES};
use integration_tests::{sdk_config, unique};
use std::time::Duration;

fn sandbox_credentials() -> EconomicCredentials {
    EconomicCredentials {
        app_secret_token: Secret::new(economic_sandbox::DEFAULT_APP_SECRET_TOKEN),
        agreement_grant_token: Secret::new(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN),
    }
}

/// DynamoDB and SQS in moto server, e-conomic in the sandbox.
struct Aws {
    orders: DynamoOrderStore,
    shops: DynamoShopStore,
    queue: SqsTransferQueue,
    invoicing: EconomicInvoicing,
    sandbox: SandboxHandle,
}

impl Aws {
    async fn new() -> Aws {
        let sdk = sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let shops_table = unique("contract-shops");
        let orders_table = unique("contract-orders");
        provision::create_tables(&dynamodb, &shops_table, &orders_table)
            .await
            .expect("tables in moto");
        let queues = provision::create_queues(
            &sqs,
            &unique("contract-transfer"),
            &unique("contract-dlq"),
            30,
            MAX_RECEIVES,
        )
        .await
        .expect("queues in moto");
        let sandbox = economic_sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox");
        let economic = EconomicClient::new(ClientConfig {
            base_url: sandbox.base_url(),
            ..ClientConfig::default()
        })
        .expect("e-conomic client");
        Aws {
            orders: DynamoOrderStore::new(dynamodb.clone(), orders_table),
            shops: DynamoShopStore::new(dynamodb, shops_table),
            queue: SqsTransferQueue::new(sqs, queues.queue_url, queues.dead_letter_queue_url),
            invoicing: EconomicInvoicing::new(economic),
            sandbox,
        }
    }
}

impl Backend for Aws {
    type Orders = DynamoOrderStore;
    type Shops = DynamoShopStore;
    type Queue = SqsTransferQueue;
    type Invoicing = EconomicInvoicing;

    fn orders(&self) -> &DynamoOrderStore {
        &self.orders
    }
    fn shops(&self) -> &DynamoShopStore {
        &self.shops
    }
    fn queue(&self) -> &SqsTransferQueue {
        &self.queue
    }
    fn queue_without_dead_letters(&self) -> SqsTransferQueue {
        SqsTransferQueue::without_dead_letter_queue(
            self.queue.client().clone(),
            self.queue.queue_url(),
        )
    }
    fn invoicing(&self) -> &EconomicInvoicing {
        &self.invoicing
    }

    async fn receive(&self, max: usize) -> Vec<InboundMessage> {
        let out = self
            .queue
            .client()
            .receive_message()
            .queue_url(self.queue.queue_url())
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .wait_time_seconds(0)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
            )
            .send()
            .await
            .expect("receive from moto");
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| InboundMessage {
                receive_count: m
                    .attributes
                    .as_ref()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                sent_at_ms: m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp))
                    .and_then(|v| v.parse().ok()),
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle,
                body: m.body.unwrap_or_default(),
            })
            .collect()
    }

    async fn pass(&self, seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }

    fn invoices_with_reference(&self, reference: &str) -> usize {
        let booked = self
            .sandbox
            .booked(0)
            .iter()
            .filter(|b| b.reference.as_deref() == Some(reference))
            .count();
        self.sandbox.drafts_with_reference(0, reference) + booked
    }

    fn credentials(&self) -> EconomicCredentials {
        sandbox_credentials()
    }
}

/// The in-memory adapters on a manual clock.
struct Memory {
    clock: ManualClock,
    orders: MemoryOrderStore,
    shops: MemoryShopStore,
    queue: MemoryTransferQueue,
    invoicing: MemoryInvoicing,
}

impl Memory {
    async fn new() -> Memory {
        let clock = ManualClock::at(1_800_000_000);
        let invoicing = MemoryInvoicing::new();
        invoicing.accept_only(&[economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN]);
        Memory {
            orders: MemoryOrderStore::new(),
            shops: MemoryShopStore::new(),
            queue: MemoryTransferQueue::new(clock.clone(), MAX_RECEIVES),
            invoicing,
            clock,
        }
    }
}

impl Backend for Memory {
    type Orders = MemoryOrderStore;
    type Shops = MemoryShopStore;
    type Queue = MemoryTransferQueue;
    type Invoicing = MemoryInvoicing;

    fn orders(&self) -> &MemoryOrderStore {
        &self.orders
    }
    fn shops(&self) -> &MemoryShopStore {
        &self.shops
    }
    fn queue(&self) -> &MemoryTransferQueue {
        &self.queue
    }
    fn queue_without_dead_letters(&self) -> MemoryTransferQueue {
        self.queue.enqueue_only()
    }
    fn invoicing(&self) -> &MemoryInvoicing {
        &self.invoicing
    }

    async fn receive(&self, max: usize) -> Vec<InboundMessage> {
        self.queue.receive(max)
    }

    async fn pass(&self, seconds: u64) {
        self.clock
            .advance(i64::try_from(seconds).unwrap_or(i64::MAX));
    }

    fn invoices_with_reference(&self, reference: &str) -> usize {
        self.invoicing.invoices_for(reference).len()
    }

    fn credentials(&self) -> EconomicCredentials {
        sandbox_credentials()
    }
}

/// One test per check and backend.
macro_rules! contract_suite {
    ($($check:ident),* $(,)?) => {
        mod aws {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    contract::$check(&Aws::new().await).await;
                }
            )*
        }
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    contract::$check(&Memory::new().await).await;
                }
            )*
        }
    };
}

contract_suite!(
    an_unknown_order_reads_as_none,
    a_control_claim_takes_any_unleased_order_but_a_cancelled_one,
    a_cancellation_needs_the_lease_and_takes_the_order_out_of_the_index,
    only_an_ok_order_under_its_lease_reopens_and_keeps_create_started,
    a_refused_request_only_records_its_history_and_frees_the_lease,
    notifications_are_numbered_per_channel_and_only_notify_skips_a_repeat,
    a_delivery_update_lands_on_its_own_notification_only,
    the_ok_label_write_can_record_the_ok_notification_itself,
    several_delivery_updates_land_in_one_write_or_none_does,
    ingest_creates_an_order_once_and_then_only_from_the_version_it_read,
    ingest_keeps_the_newest_history_and_webhook_ids_within_their_limits,
    a_claim_takes_a_free_lease_once_and_again_after_it_ran_out,
    a_claim_is_refused_for_missing_recorded_ok_and_failed_orders,
    only_the_lease_holder_may_start_the_create_or_record_a_retry,
    ok_records_the_invoice_and_leaves_the_index_and_is_never_overwritten_by_failed,
    failed_keeps_the_reason_and_leaves_the_index,
    rescan_finds_due_pending_orders_oldest_first_within_the_limit,
    a_rescan_bump_wins_only_from_the_value_it_saw,
    a_shop_reads_back_as_it_was_put_and_a_put_replaces_it,
    an_enqueued_message_is_received_once_with_its_json_body,
    a_delayed_retry_stays_hidden_for_the_delay_then_comes_back,
    a_message_received_too_often_moves_to_the_dead_letter_queue,
    dead_letters_are_hidden_while_inspected_released_or_deleted,
    a_queue_without_a_dead_letter_queue_refuses_dead_letters,
    a_push_creates_one_draft_carrying_the_reference_and_the_total,
    a_push_that_may_exist_completes_the_earlier_invoice_instead_of_a_second,
    a_push_with_tokens_the_agreement_refuses_fails_permanently,
    an_orders_credit_basis_and_ledger_are_kept_and_the_ledger_moves_one_version_at_a_time,
    only_the_lease_holder_marks_the_payment_and_the_first_mark_is_kept,
);
