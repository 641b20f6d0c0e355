//! Daybook journals: customer payment vouchers posted to a journal, the
//! journal's unbooked entries, and booking a journal (a person's action in
//! e-conomic, a control endpoint here), which moves its entries to the
//! ledger and lowers the remainder of the booked invoices they name.
//!
//! Facts and their grades are in `shared/contracts/economic/payments.md`:
//! a voucher create answers 201 with an array (LIVE); a voucher is keyed
//! `{accountingYear}-{voucherNumber}` (LIVE); entries are listed per
//! journal with `journalEntryNumber` (LIVE) and filterable on
//! `customer.customerNumber` and `text` (SCHEMA). That a negative amount is
//! a payment (it lowers the invoice's remainder once booked) is
//! unconfirmed; the sandbox books every amount into the remainder with its
//! sign, so a payment sent with the wrong sign raises it, visibly.

use crate::answer::{
    answer, error_answer, key, not_found, ref_err, validated_document, validation_error, Answer,
    Commit, FieldErr,
};
use crate::data::AgreementData;
use crate::drafts::decimal_value;
use crate::routes::{u32_at, BASE};
use crate::schema::PathSeg;
use crate::Shared;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The calendar years the seeded agreement has accounting years for.
pub const ACCOUNTING_YEARS: std::ops::RangeInclusive<i32> = 2020..=2030;

#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    pub journal_number: u32,
    pub name: String,
    /// Unbooked entries, in the order they were posted.
    pub entries: Vec<JournalEntry>,
    /// Last voucher number used, per accounting year.
    pub last_voucher: BTreeMap<String, u32>,
}

/// One customer payment entry.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub journal_entry_number: u32,
    pub journal_number: u32,
    pub accounting_year: String,
    pub voucher_number: u32,
    pub customer_number: Option<u32>,
    pub customer_invoice: Option<u32>,
    pub contra_account: Option<u32>,
    pub amount: Decimal,
    pub currency: Option<String>,
    pub date: String,
    pub text: Option<String>,
}

impl JournalEntry {
    /// The entry as `GET /journals/{n}/entries` lists it.
    pub fn json(&self) -> Value {
        let n = self.journal_number;
        let mut entry = json!({
            "journalEntryNumber": self.journal_entry_number,
            "entryType": "customerPayment",
            "journal": {"journalNumber": n, "self": format!("{BASE}/journals/{n}")},
            "voucher": {
                "voucherNumber": self.voucher_number,
                "accountingYear": {"year": self.accounting_year,
                                   "self": format!("{BASE}/accounting-years/{}", self.accounting_year)},
                "self": format!("{BASE}/journals/{n}/vouchers/{}-{}", self.accounting_year, self.voucher_number),
            },
            "amount": decimal_value(self.amount),
            "date": self.date,
            "self": format!("{BASE}/journals/{n}/entries/{}", self.journal_entry_number),
        });
        if let Some(c) = self.customer_number {
            entry["customer"] =
                json!({"customerNumber": c, "self": format!("{BASE}/customers/{c}")});
        }
        if let Some(i) = self.customer_invoice {
            entry["customerInvoice"] = json!(i);
        }
        if let Some(a) = self.contra_account {
            entry["contraAccount"] =
                json!({"accountNumber": a, "self": format!("{BASE}/accounts/{a}")});
        }
        if let Some(c) = &self.currency {
            entry["currency"] = json!({"code": c, "self": format!("{BASE}/currencies/{c}")});
        }
        if let Some(t) = &self.text {
            entry["text"] = json!(t);
        }
        entry
    }
}

pub fn seeded_journals() -> BTreeMap<u32, Journal> {
    let journal = |n: u32, name: &str| {
        (
            n,
            Journal {
                journal_number: n,
                name: name.into(),
                entries: Vec::new(),
                last_voucher: BTreeMap::new(),
            },
        )
    };
    BTreeMap::from([
        journal(1, "Kassekladde"),
        journal(2, "Webshop-indbetalinger"),
    ])
}

pub fn journal_json(j: &Journal) -> Value {
    let n = j.journal_number;
    json!({
        "journalNumber": n,
        "name": j.name,
        "entries": format!("{BASE}/journals/{n}/entries"),
        "vouchers": format!("{BASE}/journals/{n}/vouchers"),
        "self": format!("{BASE}/journals/{n}"),
    })
}

pub fn account_json(number: u32, name: &str) -> Value {
    json!({"accountNumber": number, "name": name, "accountType": "status",
           "self": format!("{BASE}/accounts/{number}")})
}

/// Amounts of one entry, read from the raw JSON text (no f64).
#[derive(serde::Deserialize)]
struct EntryAmount {
    #[serde(deserialize_with = "bridge::domain::json_decimal::deserialize_decimal")]
    amount: Decimal,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct EntryAmounts {
    #[serde(default)]
    customer_payments: Vec<EntryAmount>,
}

#[derive(serde::Deserialize)]
struct VoucherAmounts {
    #[serde(default)]
    entries: EntryAmounts,
}

/// POST /journals/{n}/vouchers: one voucher of customer payment entries.
pub(crate) fn post_voucher(
    shared: &Shared,
    a: &mut AgreementData,
    seq: u64,
    journal_number: u32,
    body: &[u8],
) -> Answer {
    if !a.journals.contains_key(&journal_number) {
        return not_found(seq, "Journal");
    }
    let doc = match validated_document(seq, body, &shared.schemas.voucher) {
        Ok(doc) => doc,
        Err(answer) => return answer,
    };
    let mut errors = Vec::new();
    let entries = doc.get("entries").cloned().unwrap_or(Value::Null);
    let other_kinds: Vec<&String> = entries
        .as_object()
        .map(|m| m.keys().filter(|k| *k != "customerPayments").collect())
        .unwrap_or_default();
    if !other_kinds.is_empty() {
        return error_answer(
            seq,
            400,
            "The sandbox supports customer payment entries only.",
            &format!("Unsupported entry kinds: {other_kinds:?}."),
            None,
        );
    }
    let payments = entries
        .get("customerPayments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if payments.is_empty() {
        return error_answer(
            seq,
            400,
            "Validation error.",
            "A voucher needs at least one entry.",
            None,
        );
    }
    let amounts: VoucherAmounts = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return error_answer(
                seq,
                400,
                "Validation error.",
                &format!("Amounts could not be read: {e}"),
                None,
            )
        }
    };
    let year = doc
        .pointer("/accountingYear/year")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let year_known = year
        .parse::<i32>()
        .is_ok_and(|y| ACCOUNTING_YEARS.contains(&y));
    if !year_known {
        errors.push(ref_err(
            vec![key("accountingYear")],
            "accountingYear",
            json!(year),
        ));
    }
    let mut planned = Vec::new();
    for (i, (entry, amount)) in payments
        .iter()
        .zip(amounts.entries.customer_payments.iter())
        .enumerate()
    {
        let at = |k: &str| {
            vec![
                key("entries"),
                key("customerPayments"),
                PathSeg::Index(i),
                key(k),
            ]
        };
        let customer = u32_at(entry, "/customer/customerNumber");
        if let Some(c) = customer.filter(|c| !a.customers.contains_key(c)) {
            errors.push(ref_err(at("customer"), "customer", json!(c)));
        }
        let contra = u32_at(entry, "/contraAccount/accountNumber");
        if let Some(n) = contra.filter(|n| !a.accounts.contains_key(n)) {
            errors.push(ref_err(at("contraAccount"), "contraAccount", json!(n)));
        }
        let currency = entry
            .pointer("/currency/code")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(c) = currency.as_ref().filter(|c| !a.currencies.contains(c)) {
            errors.push(ref_err(at("currency"), "currency", json!(c)));
        }
        // Stricter than anything documented (unconfirmed): the invoice must
        // be a booked invoice of the entry's customer, so a bridge bug that
        // names the wrong one shows.
        let invoice = u32_at(entry, "/customerInvoice");
        if let Some(n) = invoice {
            let belongs = a
                .booked
                .get(&n)
                .is_some_and(|b| customer.is_none_or(|c| b.customer_number == c));
            if !belongs {
                errors.push(ref_err(at("customerInvoice"), "customerInvoice", json!(n)));
            }
        }
        // SCHEMA `maxDecimal: 2`, which no validator enforces.
        if amount.amount.normalize().scale() > 2 {
            errors.push(FieldErr {
                path: at("amount"),
                code: "E04740",
                message: "amount scale cannot be greater then two decimal places.".into(),
                value: Some(decimal_value(amount.amount)),
            });
        }
        let date = entry
            .get("date")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if year_known && !date.starts_with(&format!("{year}-")) {
            // The sandbox's wording; e-conomic's code here is unconfirmed.
            errors.push(FieldErr {
                path: at("date"),
                code: "E04300",
                message: format!("date is not within accounting year {year}."),
                value: Some(json!(date)),
            });
        }
        planned.push(JournalEntry {
            journal_entry_number: 0,
            journal_number,
            accounting_year: year.clone(),
            voucher_number: 0,
            customer_number: customer,
            customer_invoice: invoice,
            contra_account: contra,
            amount: amount.amount,
            currency,
            date,
            text: entry.get("text").and_then(Value::as_str).map(str::to_owned),
        });
    }
    if !errors.is_empty() {
        return validation_error(seq, &errors);
    }
    let mut next_entry = a.next_journal_entry;
    let Some(journal) = a.journals.get_mut(&journal_number) else {
        return not_found(seq, "Journal");
    };
    let voucher_number = {
        let last = journal.last_voucher.entry(year.clone()).or_insert(0);
        *last += 1;
        *last
    };
    let mut listed = Vec::new();
    for mut entry in planned {
        entry.journal_entry_number = next_entry;
        entry.voucher_number = voucher_number;
        next_entry += 1;
        listed.push(entry.json());
        journal.entries.push(entry);
    }
    a.next_journal_entry = next_entry;
    let voucher_self = format!("{BASE}/journals/{journal_number}/vouchers/{year}-{voucher_number}");
    // LIVE: the create answers with an array of vouchers.
    let voucher = json!({
        "voucherNumber": voucher_number,
        "accountingYear": {"year": year, "self": format!("{BASE}/accounting-years/{year}")},
        "journal": {"journalNumber": journal_number, "self": format!("{BASE}/journals/{journal_number}")},
        "entries": {"customerPayments": listed},
        "self": voucher_self,
    });
    let mut ans = answer(201, json!([voucher]));
    ans.location = Some(voucher_self);
    ans.committed = Some(Commit::Voucher);
    ans
}

/// Books journal `number` as a person does in e-conomic: its entries leave
/// the journal for the ledger, and each that names a booked invoice adds
/// its amount to that invoice's remainder (a payment, negative, lowers it).
/// The number of entries booked; `None` when there is no such journal.
pub fn book_journal(a: &mut AgreementData, number: u32) -> Option<usize> {
    let entries = std::mem::take(&mut a.journals.get_mut(&number)?.entries);
    for entry in &entries {
        let Some(invoice) = entry.customer_invoice.and_then(|n| a.booked.get_mut(&n)) else {
            continue;
        };
        invoice.remainder += entry.amount;
        invoice.document["remainder"] = decimal_value(invoice.remainder);
    }
    let count = entries.len();
    a.posted_entries.extend(entries);
    Some(count)
}
