//! Customer payments on booked invoices (`mapping.payments`, off by
//! default): after the bridge books an order's invoice, the customer's
//! payment is entered in a daybook journal against the payment method's
//! clearing (contra) account and the invoice's number, so a card-paid order
//! does not sit as an open receivable. The accountant books the journal.
//!
//! What this module decides, without I/O: whether an order gets a payment
//! and which ([`plan_payment`]); the voucher e-conomic is sent
//! ([`voucher_post`]); and what e-conomic's answers to the two look-ups
//! mean ([`find_in_journal`], [`judge_remainder`]). The facts it rests on,
//! and which are unconfirmed, are in `shared/contracts/economic/payments.md`
//! and `docs/payments.md`.

use crate::domain::economic_model::{decimal_number, CustomerRef};
use crate::domain::mapping::MappingError;
use crate::domain::order::Order;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest `text` of a journal entry (SCHEMA `maxLength: 250`).
pub const MAX_ENTRY_TEXT_LEN: usize = 250;

/// `mapping.payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// Register payments at all. Default `false`; needs `auto_book`.
    pub enabled: bool,
    /// The daybook journal the payments go to (`journalNumber`).
    pub journal: Option<u32>,
    /// Clearing account per payment method: the shop's raw payment method
    /// string or its class (`card`, `mobilepay`, `gift_card`, …); the raw
    /// string wins, as with `payment_methods`.
    pub contra_accounts: BTreeMap<String, u32>,
    /// For a method with no `contra_accounts` entry. Default none: such an
    /// order gets no payment (an invoice or bank-transfer order is not paid
    /// when it is booked).
    pub default_contra_account: Option<u32>,
    /// The entry's `text`; `{reference}` is the invoice's reference and
    /// must appear (a retry finds the payment by it), `{invoice}` the
    /// booked invoice's number. Default `Payment {reference}`.
    pub text_format: String,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            enabled: false,
            journal: None,
            contra_accounts: BTreeMap::new(),
            default_contra_account: None,
            text_format: "Payment {reference}".to_owned(),
        }
    }
}

impl PaymentsConfig {
    pub fn is_default(&self) -> bool {
        *self == PaymentsConfig::default()
    }

    /// What serde cannot check; `auto_book`: the shop books its invoices.
    pub fn check(&self, auto_book: bool) -> Result<(), MappingError> {
        let invalid = |field: &str, message: &str| MappingError::InvalidConfig {
            field: format!("payments.{field}"),
            message: message.to_owned(),
        };
        if !self.enabled {
            return Ok(());
        }
        if !auto_book {
            return Err(invalid(
                "enabled",
                "needs `auto_book`: a payment is registered against the booked invoice's number, \
                 and a draft has none",
            ));
        }
        if self.journal.is_none_or(|j| j == 0) {
            return Err(invalid(
                "journal",
                "is required when payments are enabled: the number of the daybook journal \
                 (kassekladde) the payments are entered in",
            ));
        }
        if self.contra_accounts.is_empty() && self.default_contra_account.is_none() {
            return Err(invalid(
                "contra_accounts",
                "name at least one clearing account (per payment method or class, or \
                 `default_contra_account`): without one no order would get a payment",
            ));
        }
        if self.contra_accounts.values().any(|a| *a == 0) || self.default_contra_account == Some(0)
        {
            return Err(invalid("contra_accounts", "account numbers start at 1"));
        }
        if !self.text_format.contains("{reference}") {
            return Err(invalid(
                "text_format",
                "must contain `{reference}`: the entry's text is how a retry finds the payment \
                 an earlier attempt made",
            ));
        }
        Ok(())
    }

    /// The clearing account for the order's payment method: the raw
    /// string, then its class, then the default.
    pub fn contra_account(&self, order: &Order) -> Option<u32> {
        self.contra_accounts
            .get(order.payment_method.as_str())
            .or_else(|| {
                self.contra_accounts
                    .get(order.payment_method.kind().as_str())
            })
            .copied()
            .or(self.default_contra_account)
    }
}

/// The booked invoice a payment is for, as the push left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedInvoice<'a> {
    /// `references.other`.
    pub reference: &'a str,
    pub booked_invoice_number: u32,
    pub customer_number: u32,
    /// e-conomic's gross amount, in the invoice's currency.
    pub gross_amount: Decimal,
    pub currency: &'a str,
    /// The invoice date (`YYYY-MM-DD`): the payment's date too, the same on
    /// every attempt, so the voucher (and its idempotency key) is too.
    pub date: &'a str,
}

/// One customer payment to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentPlan {
    pub journal: u32,
    /// The invoice's reference (in `text`).
    pub reference: String,
    pub text: String,
    pub customer_number: u32,
    pub invoice_number: u32,
    /// What the customer paid: the booked invoice's gross amount (> 0).
    pub amount: Decimal,
    pub currency: String,
    pub date: String,
    pub contra_account: u32,
}

impl PaymentPlan {
    /// `accountingYear.year`: the calendar year of the payment's date.
    /// Unconfirmed for an agreement whose accounting year is not the
    /// calendar year; e-conomic then refuses the voucher (a clear failure,
    /// nothing booked twice).
    pub fn accounting_year(&self) -> &str {
        self.date.get(..4).unwrap_or(&self.date)
    }

    /// The entry's `amount`: a payment credits the customer, so it is sent
    /// negative (SCHEMA: the sign says debit or credit; which sign
    /// e-conomic reads as a payment is unconfirmed LIVE).
    pub fn entry_amount(&self) -> Decimal {
        -self.amount
    }
}

/// What the payment step does for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentDecision {
    Register(PaymentPlan),
    /// Payments are on but this order gets none; why, for its history.
    Skip(String),
}

/// The payment of a booked invoice; `None` when the shop registers no
/// payments.
pub fn plan_payment(
    order: &Order,
    config: &PaymentsConfig,
    invoice: &BookedInvoice<'_>,
) -> Option<PaymentDecision> {
    if !config.enabled {
        return None;
    }
    let journal = config.journal?;
    let method = order.payment_method.as_str();
    let Some(contra_account) = config.contra_account(order) else {
        return Some(PaymentDecision::Skip(format!(
            "no payment registered: payment method `{method}` has no clearing account in \
             `payments.contra_accounts`"
        )));
    };
    if invoice.gross_amount <= Decimal::ZERO {
        return Some(PaymentDecision::Skip(format!(
            "no payment registered: the invoice's amount is {} {}",
            invoice.gross_amount, invoice.currency
        )));
    }
    let text = config
        .text_format
        .replace("{reference}", invoice.reference)
        .replace("{invoice}", &invoice.booked_invoice_number.to_string());
    if text.chars().count() > MAX_ENTRY_TEXT_LEN {
        return Some(PaymentDecision::Skip(format!(
            "no payment registered: the entry text would be {} characters, e-conomic takes at \
             most {MAX_ENTRY_TEXT_LEN}: shorten `payments.text_format`",
            text.chars().count()
        )));
    }
    Some(PaymentDecision::Register(PaymentPlan {
        journal,
        reference: invoice.reference.to_owned(),
        text,
        customer_number: invoice.customer_number,
        invoice_number: invoice.booked_invoice_number,
        amount: invoice.gross_amount,
        currency: invoice.currency.to_owned(),
        date: invoice.date.to_owned(),
        contra_account,
    }))
}

// ------------------------------------------------------------ on the wire

/// `POST /journals/{journalNumber}/vouchers` (the bridge's contract copy:
/// `shared/contracts/economic/journals.vouchers.post.schema.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoucherPost {
    pub accounting_year: AccountingYearRef,
    pub entries: VoucherEntries,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountingYearRef {
    pub year: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoucherEntries {
    pub customer_payments: Vec<CustomerPaymentEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPaymentEntry {
    pub customer: CustomerRef,
    pub customer_invoice: u32,
    pub contra_account: AccountRef,
    pub currency: CurrencyRef,
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    pub date: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRef {
    pub account_number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyRef {
    pub code: String,
}

pub fn voucher_post(plan: &PaymentPlan) -> VoucherPost {
    VoucherPost {
        accounting_year: AccountingYearRef {
            year: plan.accounting_year().to_owned(),
        },
        entries: VoucherEntries {
            customer_payments: vec![CustomerPaymentEntry {
                customer: CustomerRef {
                    customer_number: plan.customer_number,
                },
                customer_invoice: plan.invoice_number,
                contra_account: AccountRef {
                    account_number: plan.contra_account,
                },
                currency: CurrencyRef {
                    code: plan.currency.clone(),
                },
                amount: plan.entry_amount(),
                date: plan.date.clone(),
                text: plan.text.clone(),
            }],
        },
    }
}

/// An entry of `GET /journals/{n}/entries`, as far as the look-up reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedEntry {
    #[serde(default)]
    pub journal_entry_number: Option<u32>,
    #[serde(default)]
    pub customer: Option<CustomerRef>,
    #[serde(default)]
    pub customer_invoice: Option<u32>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default, with = "decimal_number::option")]
    pub amount: Option<Decimal>,
}

/// What the unbooked journal says about the order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalLookup {
    /// No entry carries the payment's text or names its invoice.
    Absent,
    /// This entry is the payment (text, invoice and amount agree).
    Found { journal_entry_number: Option<u32> },
    /// An entry carries the text or names the invoice but differs: someone
    /// else's payment of it, or an edited one. Never post beside it.
    Ambiguous(String),
}

pub fn find_in_journal(plan: &PaymentPlan, entries: &[ListedEntry]) -> JournalLookup {
    let related = entries.iter().filter(|e| {
        e.text.as_deref() == Some(plan.text.as_str())
            || e.customer_invoice == Some(plan.invoice_number)
    });
    let mut found = None;
    for entry in related {
        let same = entry.text.as_deref() == Some(plan.text.as_str())
            && entry.customer_invoice == Some(plan.invoice_number)
            && entry.amount == Some(plan.entry_amount())
            && entry.customer.as_ref().map(|c| c.customer_number) == Some(plan.customer_number);
        if !same || found.is_some() {
            return JournalLookup::Ambiguous(format!(
                "journal {} holds {} for invoice {} that is not exactly this payment \
                 (text `{}`, amount {})",
                plan.journal,
                entry
                    .journal_entry_number
                    .map_or("an entry".to_owned(), |n| format!("entry {n}")),
                plan.invoice_number,
                entry.text.as_deref().unwrap_or(""),
                entry
                    .amount
                    .map_or("none".to_owned(), |a| a.normalize().to_string()),
            ));
        }
        found = Some(entry.journal_entry_number);
    }
    match found {
        Some(journal_entry_number) => JournalLookup::Found {
            journal_entry_number,
        },
        None => JournalLookup::Absent,
    }
}

/// What the booked invoice's `remainder` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemainderState {
    /// The whole amount is still open: no payment has been booked.
    Open,
    /// Less is open than the invoice's amount: a payment of it has been
    /// booked (a booked journal), this one or another.
    PaidBefore(Decimal),
    /// More than the amount, or below zero: not what a payment makes.
    Ambiguous(String),
}

pub fn judge_remainder(plan: &PaymentPlan, remainder: Decimal) -> RemainderState {
    if remainder == plan.amount {
        RemainderState::Open
    } else if remainder >= Decimal::ZERO && remainder < plan.amount {
        RemainderState::PaidBefore(remainder)
    } else {
        RemainderState::Ambiguous(format!(
            "booked invoice {} shows {} {} left to pay of {}: not what a payment of it makes \
             (an entry with the opposite sign?)",
            plan.invoice_number,
            remainder.normalize(),
            plan.currency,
            plan.amount.normalize()
        ))
    }
}

/// Why a payment an earlier attempt may have posted is not posted again:
/// neither look-up shows it, and the earlier post is too old for its
/// idempotency key to be trusted to turn a repeat into a replay.
pub fn unsure_reason(plan: &PaymentPlan) -> String {
    format!(
        "an earlier attempt may have registered the payment, but journal {} shows no entry          with the text `{}` and booked invoice {} is still open: check the journal (and          whether someone deleted the entry) and register the payment by hand if it is missing",
        plan.journal, plan.text, plan.invoice_number
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn config() -> PaymentsConfig {
        PaymentsConfig {
            enabled: true,
            journal: Some(2),
            contra_accounts: BTreeMap::from([
                ("card".to_owned(), 5830),
                ("PayPal".to_owned(), 5840),
            ]),
            default_contra_account: None,
            text_format: "Payment {reference}".to_owned(),
        }
    }

    fn order(method: &str) -> Order {
        let json = serde_json::json!({
            "id": "1001", "number": "1001", "created_at": "2026-05-01T10:15:00+02:00",
            "currency": "DKK", "prices_include_vat": true,
            "customer": {"id": "5821", "name": "Mette Hansen", "email": "mette@example.dk"},
            "billing_address": {"name": "Mette Hansen", "street": "Nørregade 12", "zip": "8000",
                                "city": "Aarhus C", "country": "DK"},
            "payment_method": method,
            "lines": [{"sku": "SKU-1", "name": "Socks", "quantity": "1", "unit_price": "125.00",
                       "vat_rate": "25"}],
            "total": "125.00"
        });
        crate::domain::order::parse_order(&json.to_string()).expect("the order parses")
    }

    fn invoice(gross: Decimal) -> BookedInvoice<'static> {
        BookedInvoice {
            reference: "Order 1001",
            booked_invoice_number: 20001,
            customer_number: 7,
            gross_amount: gross,
            currency: "DKK",
            date: "2026-05-01",
        }
    }

    fn plan() -> PaymentPlan {
        match plan_payment(&order("visa"), &config(), &invoice(dec!(125.00))) {
            Some(PaymentDecision::Register(plan)) => plan,
            other => panic!("expected a payment, got {other:?}"),
        }
    }

    #[test]
    fn a_card_order_is_paid_to_the_card_clearing_account() {
        let plan = plan();
        assert_eq!(plan.contra_account, 5830, "visa is a card");
        assert_eq!(plan.journal, 2);
        assert_eq!(plan.text, "Payment Order 1001");
        assert_eq!(plan.amount, dec!(125.00));
        assert_eq!(plan.accounting_year(), "2026");
        let body = serde_json::to_value(voucher_post(&plan)).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "accountingYear": {"year": "2026"},
                "entries": {"customerPayments": [{
                    "customer": {"customerNumber": 7}, "customerInvoice": 20001,
                    "contraAccount": {"accountNumber": 5830}, "currency": {"code": "DKK"},
                    "amount": -125, "date": "2026-05-01", "text": "Payment Order 1001"
                }]}
            })
        );
        // The amount is the decimal's own text, never an f64's.
        let text = serde_json::to_string(&voucher_post(&PaymentPlan {
            amount: dec!(0.10),
            ..plan
        }))
        .expect("json");
        assert!(text.contains("\"amount\":-0.1,"), "{text}");
    }

    #[test]
    fn the_raw_method_wins_over_its_class_and_the_default_comes_last() {
        let mut config = config();
        assert_eq!(config.contra_account(&order("PayPal")), Some(5840));
        assert_eq!(config.contra_account(&order("invoice")), None);
        config.default_contra_account = Some(5820);
        assert_eq!(config.contra_account(&order("invoice")), Some(5820));
        config.contra_accounts.insert("visa".to_owned(), 5831);
        assert_eq!(config.contra_account(&order("visa")), Some(5831));
    }

    #[test]
    fn orders_without_an_account_or_an_amount_get_no_payment_and_say_why() {
        let skipped = plan_payment(&order("invoice"), &config(), &invoice(dec!(125)));
        assert!(
            matches!(&skipped, Some(PaymentDecision::Skip(why)) if why.contains("`invoice`")),
            "{skipped:?}"
        );
        let free = plan_payment(&order("card"), &config(), &invoice(dec!(0)));
        assert!(matches!(free, Some(PaymentDecision::Skip(_))), "{free:?}");
        let off = PaymentsConfig {
            enabled: false,
            ..config()
        };
        assert_eq!(
            plan_payment(&order("card"), &off, &invoice(dec!(125))),
            None
        );
        let long = PaymentsConfig {
            text_format: format!("{}{{reference}}", "x".repeat(245)),
            ..config()
        };
        let too_long = plan_payment(&order("card"), &long, &invoice(dec!(125)));
        assert!(
            matches!(too_long, Some(PaymentDecision::Skip(why)) if why.contains("text_format"))
        );
    }

    #[test]
    fn the_configuration_is_checked() {
        assert_eq!(PaymentsConfig::default().check(false), Ok(()));
        assert_eq!(config().check(true), Ok(()));
        let field = |config: PaymentsConfig, auto_book| match config.check(auto_book) {
            Err(MappingError::InvalidConfig { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(field(config(), false), "payments.enabled");
        assert_eq!(
            field(
                PaymentsConfig {
                    journal: None,
                    ..config()
                },
                true
            ),
            "payments.journal"
        );
        assert_eq!(
            field(
                PaymentsConfig {
                    contra_accounts: BTreeMap::new(),
                    ..config()
                },
                true
            ),
            "payments.contra_accounts"
        );
        assert_eq!(
            field(
                PaymentsConfig {
                    text_format: "Payment {invoice}".to_owned(),
                    ..config()
                },
                true
            ),
            "payments.text_format"
        );
    }

    fn entry(text: &str, invoice: u32, amount: Decimal) -> ListedEntry {
        ListedEntry {
            journal_entry_number: Some(9),
            customer: Some(CustomerRef { customer_number: 7 }),
            customer_invoice: Some(invoice),
            text: Some(text.to_owned()),
            amount: Some(amount),
        }
    }

    #[test]
    fn the_journal_look_up_finds_exactly_this_payment_or_refuses_to_guess() {
        let plan = plan();
        let ours = entry("Payment Order 1001", 20001, dec!(-125));
        let other_order = entry("Payment Order 1002", 20002, dec!(-80));
        assert_eq!(find_in_journal(&plan, &[]), JournalLookup::Absent);
        assert_eq!(
            find_in_journal(&plan, std::slice::from_ref(&other_order)),
            JournalLookup::Absent
        );
        assert_eq!(
            find_in_journal(&plan, &[other_order, ours.clone()]),
            JournalLookup::Found {
                journal_entry_number: Some(9)
            }
        );
        // Someone's partial payment of the invoice, our text with another
        // amount, or the payment twice: never post beside them.
        for entries in [
            vec![entry("Bank transfer", 20001, dec!(-50))],
            vec![entry("Payment Order 1001", 20001, dec!(125))],
            vec![ours.clone(), ours],
        ] {
            assert!(
                matches!(
                    find_in_journal(&plan, &entries),
                    JournalLookup::Ambiguous(_)
                ),
                "{entries:?}"
            );
        }
    }

    #[test]
    fn the_remainder_says_open_paid_or_ambiguous() {
        let plan = plan();
        assert_eq!(judge_remainder(&plan, dec!(125.00)), RemainderState::Open);
        assert_eq!(
            judge_remainder(&plan, dec!(0)),
            RemainderState::PaidBefore(dec!(0))
        );
        assert_eq!(
            judge_remainder(&plan, dec!(25)),
            RemainderState::PaidBefore(dec!(25))
        );
        assert!(matches!(
            judge_remainder(&plan, dec!(250)),
            RemainderState::Ambiguous(_)
        ));
        assert!(matches!(
            judge_remainder(&plan, dec!(-1)),
            RemainderState::Ambiguous(_)
        ));
    }
}
