//! Finding an order's invoice again for a cancellation or a re-send: by
//! the draft number the order records (only while that draft still
//! carries the order's reference: numbers are reused after a delete), else
//! by the reference among the drafts, then among the booked invoices.
//! `api` addresses the shop's draft collection (invoice or order drafts).

use super::client::AgreementApi;
use super::error::EconomicError;
use super::push::{carries, find_booked, find_draft};
use crate::ports::FoundInvoice;
use std::time::Instant;

pub(super) async fn find_invoice(
    api: &AgreementApi,
    reference: &str,
    draft_hint: Option<u32>,
    deadline: Instant,
) -> Result<FoundInvoice, EconomicError> {
    if let Some(number) = draft_hint {
        if let Some(draft) = api.get_draft(number, deadline).await? {
            if carries(&draft, reference) {
                return Ok(FoundInvoice::Draft(number));
            }
        }
    }
    if let Some(draft) = find_draft(api, reference, deadline).await? {
        return Ok(FoundInvoice::Draft(draft.draft_invoice_number));
    }
    if let Some(booked) = find_booked(api, reference, deadline).await? {
        return Ok(FoundInvoice::Booked(booked.booked_invoice_number));
    }
    Ok(FoundInvoice::None)
}
